//! Sending one call: the request, the capped body, retries with backoff, one re-authentication.

use std::time::Duration;

use reqwest::header;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::RemoteClient;
use super::errors::{decode_error_body, refused_credentials, validation_refusal};
use crate::error::{Error, Result};
use crate::model::Secret;
use crate::oauth::random_unit;

/// Largest response body read; larger bodies are an error.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// One API call: method, path segments below `{env_url}/api/v1`, query, JSON body.
pub(super) struct Call<'a> {
    method: Method,
    path: Vec<&'a str>,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    idempotent: bool,
    /// `tokens:validate`: foreign refusals mean "invalid key".
    pub(super) validation: bool,
}

impl<'a> Call<'a> {
    pub(super) fn new(method: Method, path: &[&'a str]) -> Self {
        let idempotent = matches!(method, Method::GET | Method::DELETE | Method::PATCH | Method::PUT);
        Call {
            method,
            path: [&["api", "v1"][..], path].concat(),
            query: Vec::new(),
            body: None,
            idempotent,
            validation: false,
        }
    }

    pub(super) fn json<T: Serialize>(mut self, body: &T) -> Result<Self> {
        self.body = Some(
            serde_json::to_vec(body)
                .map_err(|e| Error::Internal(format!("request serialization failed: {e}")))?,
        );
        Ok(self)
    }

    pub(super) fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub(super) fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.to_string()));
        }
        self
    }
}

/// What went wrong with one attempt.
pub(super) enum Failure {
    /// The server answered with an error status (the error, and whether its body carried an
    /// authgate error code).
    Status(StatusCode, Option<Duration>, Error, bool),
    /// No answer: connection refused, reset, timed out.
    Transport { error: Error, sent: bool },
}

impl RemoteClient {
    // --- environment access token ------------------------------------------------------------

    /// The environment access token (cached by the fetcher; one request shared by concurrent
    /// callers; refreshed ahead of expiry).
    pub(super) async fn access_token(&self) -> Result<Secret> {
        Ok(self.inner.auth.get_token().await?.access_token)
    }

    // --- transport -----------------------------------------------------------------------------

    /// Runs `work` (one whole call: token, attempts, waits) within the call deadline,
    /// [`RemoteOptions::timeout`](super::RemoteOptions::timeout).
    pub(super) async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let deadline = self.inner.options.timeout;
        match tokio::time::timeout(deadline, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Timeout(format!(
                "{} did not answer within the client's {:.1} s timeout ({} attempts at most)",
                self.inner.env_url,
                deadline.as_secs_f64(),
                self.inner.options.max_retries.saturating_add(1)
            ))),
        }
    }

    /// The time one attempt may take: an equal share of the call deadline, at least 1 s (or the
    /// whole deadline when that is shorter).
    fn attempt_timeout(&self) -> Duration {
        let options = &self.inner.options;
        let share = options.timeout / options.max_retries.saturating_add(1);
        share.max(Duration::from_secs(1)).min(options.timeout)
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(Duration::from_secs(5));
        }
        let base = self
            .inner
            .options
            .retry_backoff
            .saturating_mul(1 << attempt.min(10));
        let base = base.min(Duration::from_secs(2));
        base.mul_f64(0.5 + random_unit())
    }

    /// Waits before the next attempt of a call that has failed `attempt` times, or returns false
    /// when its retries are used up.
    async fn retry_wait(&self, attempt: &mut u32, retry_after: Option<Duration>) -> bool {
        if *attempt >= self.inner.options.max_retries {
            return false;
        }
        tokio::time::sleep(self.backoff(*attempt, retry_after)).await;
        *attempt += 1;
        true
    }

    /// Sends one request and reads the whole (capped) body.
    async fn send_once(
        &self,
        method: Method,
        url: Url,
        bearer: Option<&Secret>,
        content_type: Option<&'static str>,
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let mut request = self
            .inner
            .http
            .request(method, url)
            .timeout(self.attempt_timeout());
        if let Some(token) = bearer {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, content_type.unwrap_or("application/json"))
                .body(body);
        }
        let mut response = request.send().await.map_err(|e| Failure::Transport {
            sent: !e.is_connect(),
            error: transport_error(e),
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(Failure::Transport {
                            error: Error::Unavailable("response body exceeds 8 MiB".into()),
                            sent: true,
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Failure::Transport {
                        error: transport_error(e),
                        sent: true,
                    });
                }
            }
        }
        if status.is_success() {
            Ok(bytes)
        } else {
            let (error, ours) = decode_error_body(status, &bytes);
            Err(Failure::Status(status, retry_after, error, ours))
        }
    }

    /// An authenticated API call with the retry rules of the module docs, within the deadline.
    pub(super) async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        self.within_deadline(self.call_attempts(call)).await
    }

    async fn call_attempts<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        let url = {
            let mut url = self.url(&call.path);
            if !call.query.is_empty() {
                url.query_pairs_mut()
                    .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
            }
            url
        };
        let mut attempt = 0;
        let mut reauthenticated = false;
        loop {
            let token = self.access_token().await?;
            let outcome = self
                .send_once(
                    call.method.clone(),
                    url.clone(),
                    Some(&token),
                    None,
                    call.body.clone(),
                )
                .await;
            let (error, retry_after, retryable) = match outcome {
                Ok(bytes) => return decode(&bytes),
                Err(Failure::Status(status, retry_after, error, ours)) => {
                    if status == StatusCode::UNAUTHORIZED && !reauthenticated && refused_credentials(&error) {
                        reauthenticated = true;
                        // Only this token: many concurrent 401s cause one refresh.
                        self.inner.auth.invalidate_token(token.expose());
                        continue;
                    }
                    if call.validation
                        && let Some(refusal) = validation_refusal(&error, ours)
                    {
                        return Err(refusal);
                    }
                    let retryable = call.idempotent && status == StatusCode::SERVICE_UNAVAILABLE;
                    (error, retry_after, retryable)
                }
                Err(Failure::Transport { error, sent }) => (error, None, call.idempotent || !sent),
            };
            if !retryable || !self.retry_wait(&mut attempt, retry_after).await {
                return Err(error);
            }
        }
    }

    /// An unauthenticated request: a GET (the JWKS), or a POST of `form` (the token endpoint).
    /// Retried on 503 and on transport failures, whatever the method: issuing a token is safe
    /// to repeat too (a lost answer only leaves an unused token).
    pub(super) async fn send_public<T: DeserializeOwned>(
        &self,
        path: &[&str],
        form: Option<&Secret>,
    ) -> Result<T> {
        self.within_deadline(self.send_public_attempts(path, form)).await
    }

    async fn send_public_attempts<T: DeserializeOwned>(
        &self,
        path: &[&str],
        form: Option<&Secret>,
    ) -> Result<T> {
        let url = self.url(path);
        let (method, content_type) = match form {
            Some(_) => (Method::POST, Some("application/x-www-form-urlencoded")),
            None => (Method::GET, None),
        };
        let mut attempt = 0;
        loop {
            let body = form.map(|f| f.expose().as_bytes().to_vec());
            let outcome = self
                .send_once(method.clone(), url.clone(), None, content_type, body)
                .await;
            let (error, retry_after) = match outcome {
                Ok(bytes) => return decode(&bytes),
                Err(Failure::Status(status, retry_after, error, _))
                    if status == StatusCode::SERVICE_UNAVAILABLE =>
                {
                    (error, retry_after)
                }
                Err(Failure::Status(_, _, error, _)) => return Err(error),
                Err(Failure::Transport { error, .. }) => (error, None),
            };
            if !self.retry_wait(&mut attempt, retry_after).await {
                return Err(error);
            }
        }
    }
}

fn transport_error(e: reqwest::Error) -> Error {
    let e = e.without_url();
    if e.is_timeout() {
        Error::Timeout(format!("request timed out: {e}"))
    } else if e.is_connect() {
        Error::Unavailable(format!("cannot connect: {e}"))
    } else {
        Error::Unavailable(format!("request failed: {e}"))
    }
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| Error::Server {
        http_status: 200,
        error_code: "invalid_response".into(),
        message: format!("unexpected response body: {e}"),
    })
}
