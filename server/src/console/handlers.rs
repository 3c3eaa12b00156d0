//! The console's own routes: the page and its assets, sign-in, the session, sign-out and the
//! dashboard's figures. Everything else the console does goes through the management API.

use authgate_core::Error;
use authgate_core::keys::ENVIRONMENT_CLIENT_ID_PREFIX;
use axum::Extension;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{Console, authenticate, check_same_origin, secure_headers, session_cookie};
use crate::serve::error::ApiError;
use crate::serve::handlers::oauth::{MAX_PARAM_LEN, failed_authentication};
use crate::serve::json::{Json, NoBody, Path};
use crate::serve::limiter::Peer;
use crate::serve::metrics::Snapshot;
use crate::serve::state::AppState;

/// The console, or a 404 when it is turned off (`--no-console`).
fn console(state: &AppState) -> Result<&Console, ApiError> {
    state
        .console
        .as_deref()
        .ok_or_else(|| ApiError::from(Error::not_found("route", "/console")))
}

/// A JSON answer with the console's headers (never cached).
fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let mut response = crate::serve::json::response(status, value);
    secure_headers(&mut response, true);
    response
}

/// An error answer with the console's headers.
fn error(err: ApiError) -> Response {
    let mut response = err.into_response();
    secure_headers(&mut response, true);
    response
}

/// A request authenticated by its console session (see [`authenticate`]); restarts the idle
/// clock.
#[derive(Debug)]
pub struct ConsoleSession {
    session_id: String,
    info: super::session::SessionInfo,
}

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        session_from_parts(parts, state, true).await
    }
}

/// Like [`ConsoleSession`], without restarting the idle clock: the dashboard's background
/// polling does not keep an unattended session alive.
#[derive(Debug)]
pub struct ConsolePoll(pub ConsoleSession);

impl FromRequestParts<AppState> for ConsolePoll {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        session_from_parts(parts, state, false).await.map(ConsolePoll)
    }
}

async fn session_from_parts(
    parts: &Parts,
    state: &AppState,
    touch: bool,
) -> Result<ConsoleSession, Response> {
    console(state).map_err(error)?;
    let Some(session_id) = session_cookie(&parts.headers).map(str::to_owned) else {
        return Err(error(ApiError::from(Error::Unauthenticated(
            "sign in to the console first".into(),
        ))));
    };
    let info = authenticate(state, parts, &session_id, touch)
        .await
        .map_err(error)?;
    Ok(ConsoleSession { session_id, info })
}

/// `GET /console`: the single page.
pub async fn page(State(state): State<AppState>) -> Response {
    if let Err(err) = console(&state) {
        return error(err);
    }
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        super::assets::INDEX_HTML,
    )
        .into_response();
    secure_headers(&mut response, true);
    response
}

/// `GET /console/assets/{file}`: the script, the stylesheet and the icon.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if let Err(err) = console(&state) {
        return error(err);
    }
    let Some((content_type, body)) = super::assets::file(&file) else {
        return error(ApiError::from(Error::not_found(
            "route",
            format!("/console/assets/{file}"),
        )));
    };
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response();
    secure_headers(&mut response, false);
    response
}

/// The body of `POST /console/api/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    client_id: String,
    client_secret: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// What the page learns about its session (never the session id, which stays in the
/// `HttpOnly` cookie).
#[derive(Debug, Serialize)]
pub struct SessionBody {
    client_id: String,
    csrf_token: String,
    expires_in: u64,
    idle_timeout: u64,
}

impl SessionBody {
    fn new(console: &Console, info: super::session::SessionInfo) -> Self {
        SessionBody {
            client_id: info.client_id,
            csrf_token: info.csrf_token,
            expires_in: info.expires_in,
            idle_timeout: console.sessions.limits().idle.as_secs(),
        }
    }
}

/// The 401 of a failed sign-in: the same answer whatever was wrong (id, secret, revoked).
fn bad_credentials() -> ApiError {
    ApiError::from(Error::Unauthenticated(
        "sign-in failed: the client id or secret is wrong, or the credential is revoked".into(),
    ))
}

/// `POST /console/api/session` `{client_id, client_secret}` → `{client_id, csrf_token,
/// expires_in, idle_timeout}` (201) and the session cookie.
///
/// The credentials are checked as the token endpoint checks them: a source address or client id
/// over the brute-force limits is answered 429 before the secret is looked at; a wrong secret, an
/// unknown or revoked credential is a 401 counted by the limits (and in
/// `authgate_client_auth_failures_total`). Only environment credentials (`skc_…`) sign in.
pub async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Result<Json<SignIn>, ApiError>,
) -> Response {
    match sign_in_inner(&state, peer.as_deref(), &headers, &uri, body).await {
        Ok(response) => response,
        Err(err) => error(err),
    }
}

async fn sign_in_inner(
    state: &AppState,
    peer: Option<&Peer>,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    body: Result<Json<SignIn>, ApiError>,
) -> Result<Response, ApiError> {
    let console = console(state)?;
    check_same_origin(console, headers, uri)?;
    let Json(SignIn {
        client_id,
        client_secret,
    }) = body?;
    if client_id.len() > MAX_PARAM_LEN || client_secret.len() > MAX_PARAM_LEN {
        return Err(ApiError::from(Error::invalid(
            "client_id",
            "the client id and secret are at most 4096 bytes each",
        )));
    }
    let source = state.limiter.source(peer, headers);
    if let Some(retry_after) = state.limiter.blocked(Some(&client_id), source) {
        state.metrics.auth_rate_limited();
        return Err(ApiError::rate_limited(retry_after));
    }
    if !client_id.starts_with(ENVIRONMENT_CLIENT_ID_PREFIX) || client_secret.is_empty() {
        failed_authentication(state, Some(&client_id), source);
        return Err(bad_credentials());
    }
    // The token endpoint's check: the client-credentials grant verifies the secret and refuses
    // a revoked credential. The token it issues is not kept (the session is the credential).
    match state
        .api
        .issue_client_token(&client_id, &client_secret, None)
        .await
    {
        Ok(_token) => {}
        Err(Error::InvalidClient) => {
            failed_authentication(state, Some(&client_id), source);
            return Err(bad_credentials());
        }
        Err(err) => return Err(ApiError::from(err)),
    }
    // A sign-in replaces the session this browser held, if any (no two live sessions per cookie).
    if let Some(old) = session_cookie(headers) {
        console.sessions.remove(old);
    }
    let (session_id, info) = console.sessions.create(&client_id);
    tracing::info!(%client_id, source = ?source, "console sign-in");
    let mut response = json(StatusCode::CREATED, &SessionBody::new(console, info));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, console.cookie(&session_id));
    Ok(response)
}

/// `GET /console/api/session` → `{client_id, csrf_token, expires_in, idle_timeout}` of the
/// cookie's session; 401 when there is none.
pub async fn session(State(state): State<AppState>, session: ConsoleSession) -> Response {
    match console(&state) {
        Ok(console) => json(StatusCode::OK, &SessionBody::new(console, session.info)),
        Err(err) => error(err),
    }
}

/// `DELETE /console/api/session` (CSRF token required): ends the session and clears the cookie.
pub async fn sign_out(State(state): State<AppState>, session: ConsoleSession, _body: NoBody) -> Response {
    let console = match console(&state) {
        Ok(console) => console,
        Err(err) => return error(err),
    };
    console.sessions.remove(&session.session_id);
    tracing::info!(client_id = %session.info.client_id, "console sign-out");
    let mut response = json(StatusCode::OK, &serde_json::json!({}));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, console.clear_cookie());
    response
}

/// `GET /console/api/stats` → the server's counters ([`Snapshot`]), for the dashboard's chart.
/// Does not restart the session's idle clock.
pub async fn stats(State(state): State<AppState>, _session: ConsolePoll) -> Response {
    let snapshot: Snapshot = state.metrics.snapshot();
    json(StatusCode::OK, &snapshot)
}
