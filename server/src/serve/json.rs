//! JSON in and out: the request extractors (body, query string, path) that turn every kind of bad
//! input into a typed [`ApiError`], and the response helper.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Serializes `value` as the JSON body of a response with `status`.
pub fn response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let (status, body) = match serde_json::to_vec(value) {
        Ok(bytes) => (status, Body::from(bytes)),
        Err(err) => {
            tracing::error!(error = %err, "response serialization failed");
            let body = r#"{"code":13,"message":"internal error","details":[]}"#;
            (StatusCode::INTERNAL_SERVER_ERROR, Body::from(body))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, APPLICATION_JSON);
    response
}

/// A JSON response with status 200.
#[derive(Debug)]
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        response(StatusCode::OK, &self.0)
    }
}

/// A JSON response with status 201 (the create operations, as Scalekit's OpenAPI documents them).
#[derive(Debug)]
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        response(StatusCode::CREATED, &self.0)
    }
}

/// True when the request declares a JSON body (`application/json`, optionally with parameters,
/// or any `application/*+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = mime.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Reads the whole body within the configured limit (the router's `DefaultBodyLimit`).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::bad_request(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                "the request body exceeds the size limit",
            )
            .closing()
        } else {
            ApiError::bad_request(
                StatusCode::BAD_REQUEST,
                "body",
                "the request body could not be read",
            )
        }
    })
}

fn decode_error(err: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("malformed JSON: {err}"),
        Category::Data => err.to_string(),
    };
    ApiError::bad_request(StatusCode::BAD_REQUEST, "body", message)
}

/// A JSON request body, decoded strictly: `Content-Type: application/json` required (415
/// otherwise), size-limited (413), syntax and schema errors (unknown fields, wrong types) 400.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::bad_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "the request body must be application/json",
            )
            .closing());
        }
        let bytes = read_body(req, state).await?;
        serde_json::from_slice(&bytes).map(Json).map_err(decode_error)
    }
}

/// The body of a request that takes none: empty, or an empty JSON object (`{}`).
#[derive(Debug)]
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let declared_json = is_json(req.headers());
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoBody);
        }
        if has_type && !declared_json {
            return Err(ApiError::bad_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "the request body must be application/json",
            ));
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        serde_json::from_slice::<Nothing>(&bytes)
            .map(|_| NoBody)
            .map_err(decode_error)
    }
}

/// A query string decoded strictly into `T` (unknown or repeated parameters are errors).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|err| ApiError::bad_request(StatusCode::BAD_REQUEST, "query", err.to_string()))
    }
}

/// Path parameters, with percent-decoding errors answered as invalid arguments.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| {
                ApiError::bad_request(StatusCode::BAD_REQUEST, "path", rejection.body_text())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        h
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("Application/JSON; charset=utf-8")));
        assert!(is_json(&headers("application/merge-patch+json")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&headers("application/x-www-form-urlencoded")));
        assert!(!is_json(&headers("application/jsonx")));
        assert!(!is_json(&headers("+json")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
