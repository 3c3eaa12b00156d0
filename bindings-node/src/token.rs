//! API keys: `scalekit.token` (Scalekit's `ApiTokenService`).

use std::collections::HashMap;
use std::sync::Arc;

use authgate_core::authority::limits;
use authgate_core::model::{
    CreateToken, ListTokens, RateLimit, RotateToken, TokenInfo, UpdateToken, ValidateOptions,
};
use authgate_core::{AuthApi, Error};
use chrono::{DateTime, Utc};
use napi::bindgen_prelude::{Either3, PromiseRaw};
use napi::{Env, Result};
use napi_derive::napi;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::errors::spawn;
use crate::to_date;

/// A per-key rate limit (an authgate extension): at most `limit` successful validations per
/// fixed window of `windowSeconds` (windows aligned to the Unix epoch). Over it, validation
/// rejects with `ScalekitRateLimitedException` (`retryAfter`: seconds left in the window).
#[napi(object, js_name = "RateLimit")]
#[derive(Debug, Clone, Copy)]
pub struct JsRateLimit {
    /// Validations allowed per window (1–1,000,000,000).
    pub limit: f64,
    /// The window length in seconds (1–86,400).
    pub window_seconds: f64,
}

impl From<RateLimit> for JsRateLimit {
    fn from(r: RateLimit) -> Self {
        JsRateLimit {
            limit: r.limit as f64,
            window_seconds: r.window_seconds as f64,
        }
    }
}

/// Everything known about an API key (Scalekit's `Token` message).
#[napi(object, js_name = "Token")]
#[derive(Debug)]
pub struct JsToken {
    /// `apit_…`: the id for list/update/invalidate. Not a credential.
    pub token_id: String,
    /// `org_…`
    pub organization_id: String,
    /// The organization's external id (empty when it has none).
    pub organization_external_id: String,
    /// Present only for user-scoped keys.
    pub user_id: Option<String>,
    /// The user's external id, for user-scoped keys.
    pub user_external_id: Option<String>,
    /// Caller-defined claims.
    pub custom_claims: HashMap<String, String>,
    /// When the key stops validating; absent = never.
    pub expiry: Option<DateTime<Utc>>,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// Free text.
    pub description: Option<String>,
    /// The last four characters of the key.
    pub token_suffix: String,
    /// The user's email, for user-scoped keys.
    pub email: Option<String>,
    /// The user's roles in the organization.
    pub roles: Vec<String>,
    /// When the key was revoked; only on revoked keys (`listTokens` with `includeRevoked`).
    pub revoked_at: Option<DateTime<Utc>>,
    /// The `apit_…` id of the key this one replaced by `rotateToken`.
    pub rotated_from: Option<String>,
    /// The `apit_…` id of the key that replaced this one (its `expiry` is the end of grace).
    pub rotated_to: Option<String>,
    /// The last successful validation, written at most every few seconds (5 s by default).
    pub last_used_time: Option<DateTime<Utc>>,
    /// The networks the key may be used from (canonical `addr/prefix`); absent = any address.
    /// (authgate extension.)
    pub allowed_cidrs: Option<Vec<String>>,
    /// How often the key may be used; absent = no limit. (authgate extension.)
    pub rate_limit: Option<JsRateLimit>,
}

/// A whole, non-negative JavaScript number for `field`; ranges are the core's to check.
fn whole(field: &str, value: f64) -> authgate_core::Result<u64> {
    if !value.is_finite() || value.fract() != 0.0 || value < 0.0 {
        return Err(Error::invalid(field, "must be a whole number"));
    }
    // Beyond u64 saturates, and the core's range check refuses it.
    Ok(value as u64)
}

/// A `rateLimit` option as the core's record, checked by the core's rule.
fn rate_limit(value: JsRateLimit) -> authgate_core::Result<RateLimit> {
    let rate = RateLimit {
        limit: whole("rateLimit.limit", value.limit)?,
        window_seconds: whole("rateLimit.windowSeconds", value.window_seconds)?,
    };
    limits::rate_limit(&rate)?;
    Ok(rate)
}

/// `allowedCidrs` / `rateLimit` of `updateToken` with their `remove…` flags: `Some(None)`
/// removes; a value and its removal together are refused.
fn replace_or_remove<T>(
    value: Option<T>,
    remove: Option<bool>,
    field: &str,
    flag: &str,
) -> authgate_core::Result<Option<Option<T>>> {
    match (value, remove.unwrap_or(false)) {
        (Some(_), true) => Err(Error::invalid(field, format!("give {field} or {flag}, not both"))),
        (Some(v), false) => Ok(Some(Some(v))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
    }
}

/// The `clientIp` of a validation (core rule: an IPv4 or IPv6 address, no port).
fn validate_options(client_ip: Option<&str>) -> authgate_core::Result<ValidateOptions> {
    Ok(ValidateOptions {
        client_ip: client_ip.map(limits::client_ip).transpose()?,
    })
}

impl From<TokenInfo> for JsToken {
    fn from(t: TokenInfo) -> Self {
        JsToken {
            token_id: t.token_id,
            organization_id: t.organization_id,
            organization_external_id: t.organization_external_id,
            user_id: t.user_id,
            user_external_id: t.user_external_id,
            custom_claims: t.custom_claims.into_iter().collect(),
            expiry: t.expiry.map(to_date),
            created_at: to_date(t.created_at),
            description: t.description,
            token_suffix: t.token_suffix,
            email: t.email,
            roles: t.roles,
            revoked_at: t.revoked_at.map(to_date),
            rotated_from: t.rotated_from,
            rotated_to: t.rotated_to,
            last_used_time: t.last_used_time.map(to_date),
            allowed_cidrs: t.allowed_cidrs,
            rate_limit: t.rate_limit.map(Into::into),
        }
    }
}

/// Options of `createToken`.
#[napi(object, js_name = "CreateTokenOptions")]
#[derive(Debug, Default)]
pub struct JsCreateTokenOptions {
    /// Makes the key user-scoped.
    pub user_id: Option<String>,
    /// Claims returned on every validation.
    pub custom_claims: Option<HashMap<String, String>>,
    /// When the key stops validating: a `Date`, an RFC 3339 string or Unix seconds.
    pub expiry: Option<Either3<DateTime<Utc>, String, f64>>,
    /// Free text.
    pub description: Option<String>,
    /// Restricts the key to these networks (1–50 entries: `10.0.0.0/8`, `2001:db8::/32`, or a
    /// bare address). (authgate extension.)
    pub allowed_cidrs: Option<Vec<String>>,
    /// Limits how often the key validates. (authgate extension.)
    pub rate_limit: Option<JsRateLimit>,
}

/// Options of `validateToken`.
#[napi(object, js_name = "ValidateTokenOptions")]
#[derive(Debug, Default)]
pub struct JsValidateTokenOptions {
    /// The caller's address (`authenticateToken` passes the request's): a key with
    /// `allowedCidrs` validates only from inside them. (authgate extension.)
    pub client_ip: Option<String>,
}

/// Result of `createToken`. `token` is the plain key: shown once, never stored.
#[napi(object, js_name = "CreateTokenResponse")]
#[derive(Debug)]
pub struct JsCreateTokenResponse {
    /// The plain API key.
    pub token: String,
    /// `apit_…`
    pub token_id: String,
    /// The key's metadata.
    pub token_info: JsToken,
}

/// Result of `validateToken`.
#[napi(object, js_name = "ValidateTokenResponse")]
#[derive(Debug)]
pub struct JsValidateTokenResponse {
    /// The key's metadata.
    pub token_info: JsToken,
}

/// Result of `updateToken`.
#[napi(object, js_name = "UpdateTokenResponse")]
#[derive(Debug)]
pub struct JsUpdateTokenResponse {
    /// The key's metadata after the update.
    pub token_info: JsToken,
}

/// Options of `listTokens`.
#[napi(object, js_name = "ListTokensOptions")]
#[derive(Debug, Default)]
pub struct JsListTokensOptions {
    /// Only keys of this user.
    pub user_id: Option<String>,
    /// Page size (1–30, default 10).
    pub page_size: Option<u32>,
    /// Token of the page to read.
    pub page_token: Option<String>,
    /// Also list revoked keys, each with its `revokedAt`.
    pub include_revoked: Option<bool>,
    /// Only keys not used since this time (a `Date`, an RFC 3339 string or Unix seconds).
    pub unused_since: Option<Either3<DateTime<Utc>, String, f64>>,
}

/// Options of `rotateToken`.
#[napi(object, js_name = "RotateTokenOptions")]
#[derive(Debug, Default)]
pub struct JsRotateTokenOptions {
    /// Seconds the old key keeps validating: 0 revokes it at once; default 86400 (a day).
    pub grace_period_seconds: Option<i64>,
    /// The new key's rate limit (default: the old key's).
    pub rate_limit: Option<JsRateLimit>,
}

/// Result of `listTokens`.
#[napi(object, js_name = "ListTokensResponse")]
#[derive(Debug)]
pub struct JsListTokensResponse {
    /// This page.
    pub tokens: Vec<JsToken>,
    /// Number of keys matching, over all pages.
    pub total_count: u32,
    /// Token of the next page; empty on the last one.
    pub next_page_token: String,
    /// Token of the previous page; empty on the first one.
    pub prev_page_token: String,
}

/// Options of `updateToken`.
#[napi(object, js_name = "UpdateTokenOptions")]
#[derive(Debug, Default)]
pub struct JsUpdateTokenOptions {
    /// Replaces the whole claims map when given.
    pub custom_claims: Option<HashMap<String, String>>,
    /// Replaces the description when given; `''` clears it.
    pub description: Option<String>,
    /// Replaces the key's networks when given. (authgate extension.)
    pub allowed_cidrs: Option<Vec<String>>,
    /// Replaces the key's rate limit when given. (authgate extension.)
    pub rate_limit: Option<JsRateLimit>,
    /// `true` removes the key's network restriction (not with `allowedCidrs`).
    pub remove_allowed_cidrs: Option<bool>,
    /// `true` removes the key's rate limit (not with `rateLimit`).
    pub remove_rate_limit: Option<bool>,
}

/// An empty result (Scalekit's `google.protobuf.Empty`).
#[napi(object, js_name = "Empty")]
#[derive(Debug, Default)]
pub struct JsEmpty {}

/// A `Date`, RFC 3339 string or Unix seconds as a timestamp; anything else is a typed error.
pub(crate) fn timestamp(
    field: &str,
    value: Either3<DateTime<Utc>, String, f64>,
) -> authgate_core::Result<OffsetDateTime> {
    let bad = |why: &str| authgate_core::Error::invalid(field, why);
    match value {
        Either3::A(date) => {
            OffsetDateTime::from_unix_timestamp(date.timestamp()).map_err(|_| bad("date out of range"))
        }
        Either3::B(text) => {
            OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| bad("not an RFC 3339 timestamp"))
        }
        Either3::C(secs) => {
            if !secs.is_finite() || secs.fract() != 0.0 || secs.abs() > 253_402_300_799.0 {
                return Err(bad("must be whole Unix seconds"));
            }
            OffsetDateTime::from_unix_timestamp(secs as i64).map_err(|_| bad("out of range"))
        }
    }
}

/// `scalekit.token`: create, validate, list, update and invalidate API keys.
#[napi(js_name = "NativeTokenClient")]
#[derive(Debug)]
pub struct JsTokenClient {
    pub(crate) api: Arc<dyn AuthApi>,
}

#[napi]
impl JsTokenClient {
    /// Creates an API key for the organization (user-scoped with `userId`).
    #[napi(ts_return_type = "Promise<CreateTokenResponse>")]
    pub fn create_token<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        options: Option<JsCreateTokenOptions>,
    ) -> Result<PromiseRaw<'env, JsCreateTokenResponse>> {
        let api = self.api.clone();
        let o = options.unwrap_or_default();
        spawn(env, async move {
            let input = CreateToken {
                organization_id,
                user_id: o.user_id,
                custom_claims: o.custom_claims.unwrap_or_default().into_iter().collect(),
                expiry: o.expiry.map(|e| timestamp("expiry", e)).transpose()?,
                description: o.description,
                allowed_cidrs: o.allowed_cidrs,
                rate_limit: o.rate_limit.map(rate_limit).transpose()?,
            };
            let r = api.create_token(input).await?;
            Ok(JsCreateTokenResponse {
                token: r.token.into_inner(),
                token_id: r.token_id,
                token_info: r.token_info.into(),
            })
        })
    }

    /// Validates a plain API key; rejects with `token_validation_failed` for any bad key (and
    /// a key with `allowedCidrs` used from elsewhere), `rate_limited` over its rate limit.
    #[napi(ts_return_type = "Promise<ValidateTokenResponse>")]
    pub fn validate_token<'env>(
        &self,
        env: &'env Env,
        token: String,
        options: Option<JsValidateTokenOptions>,
    ) -> Result<PromiseRaw<'env, JsValidateTokenResponse>> {
        let api = self.api.clone();
        let client_ip = options.and_then(|o| o.client_ip);
        spawn(env, async move {
            let options = validate_options(client_ip.as_deref())?;
            let info = api.validate_token_with(&token, &options).await?;
            Ok(JsValidateTokenResponse {
                token_info: info.into(),
            })
        })
    }

    /// `validateToken` on the calling thread, when the answer needs no waiting: embedded on SQLite
    /// (an indexed read of a few microseconds, less than a hop to the runtime costs) and for any
    /// malformed key. `undefined` means: call `validateToken`. Throws what `validateToken` rejects with.
    #[napi]
    pub fn validate_token_now(
        &self,
        env: &Env,
        token: String,
        options: Option<JsValidateTokenOptions>,
    ) -> Result<Option<JsValidateTokenResponse>> {
        let client_ip = options.and_then(|o| o.client_ip);
        let options = crate::errors::sync(env, validate_options(client_ip.as_deref()))?;
        self.api
            .validate_token_now_with(&token, &options)
            .map(|result| {
                crate::errors::sync(env, result).map(|info| JsValidateTokenResponse {
                    token_info: info.into(),
                })
            })
            .transpose()
    }

    /// Lists the live keys of an organization.
    #[napi(ts_return_type = "Promise<ListTokensResponse>")]
    pub fn list_tokens<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        options: Option<JsListTokensOptions>,
    ) -> Result<PromiseRaw<'env, JsListTokensResponse>> {
        let api = self.api.clone();
        let o = options.unwrap_or_default();
        spawn(env, async move {
            let input = ListTokens {
                organization_id,
                user_id: o.user_id,
                page_size: o.page_size,
                page_token: o.page_token,
                include_revoked: o.include_revoked.unwrap_or(false),
                unused_since: o.unused_since.map(|t| timestamp("unusedSince", t)).transpose()?,
            };
            let r = api.list_tokens(input).await?;
            Ok(JsListTokensResponse {
                tokens: r.tokens.into_iter().map(Into::into).collect(),
                total_count: r.total_count,
                next_page_token: r.next_page_token,
                prev_page_token: r.prev_page_token,
            })
        })
    }

    /// Replaces the claims, the description, the networks and/or the rate limit of a key (by
    /// key or `apit_…` id); `removeAllowedCidrs` / `removeRateLimit` remove the last two.
    #[napi(ts_return_type = "Promise<UpdateTokenResponse>")]
    pub fn update_token<'env>(
        &self,
        env: &'env Env,
        token: String,
        options: Option<JsUpdateTokenOptions>,
    ) -> Result<PromiseRaw<'env, JsUpdateTokenResponse>> {
        let api = self.api.clone();
        let o = options.unwrap_or_default();
        spawn(env, async move {
            let rate = o.rate_limit.map(rate_limit).transpose()?;
            let input = UpdateToken {
                token,
                custom_claims: o.custom_claims.map(|m| m.into_iter().collect()),
                description: o.description,
                allowed_cidrs: replace_or_remove(
                    o.allowed_cidrs,
                    o.remove_allowed_cidrs,
                    "allowedCidrs",
                    "removeAllowedCidrs",
                )?,
                rate_limit: replace_or_remove(rate, o.remove_rate_limit, "rateLimit", "removeRateLimit")?,
            };
            let info = api.update_token(input).await?;
            Ok(JsUpdateTokenResponse {
                token_info: info.into(),
            })
        })
    }

    /// Rotates a key (by key or `apit_…` id): a new key with the same organization, user,
    /// claims, description, expiry and settings; the old one validates until the grace period
    /// ends, then is revoked.
    #[napi(ts_return_type = "Promise<CreateTokenResponse>")]
    pub fn rotate_token<'env>(
        &self,
        env: &'env Env,
        token: String,
        options: Option<JsRotateTokenOptions>,
    ) -> Result<PromiseRaw<'env, JsCreateTokenResponse>> {
        let api = self.api.clone();
        let o = options.unwrap_or_default();
        spawn(env, async move {
            let input = RotateToken {
                token,
                grace_period_seconds: o.grace_period_seconds,
                rate_limit: o.rate_limit.map(rate_limit).transpose()?,
            };
            let r = api.rotate_token(input).await?;
            Ok(JsCreateTokenResponse {
                token: r.token.into_inner(),
                token_id: r.token_id,
                token_info: r.token_info.into(),
            })
        })
    }

    /// Revokes a key (by key or `apit_…` id). Idempotent.
    #[napi(ts_return_type = "Promise<Empty>")]
    pub fn invalidate_token<'env>(&self, env: &'env Env, token: String) -> Result<PromiseRaw<'env, JsEmpty>> {
        let api = self.api.clone();
        spawn(env, async move {
            api.invalidate_token(&token).await?;
            Ok(JsEmpty::default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_accepts_a_date_rfc3339_or_unix_seconds_and_nothing_else() {
        let date = DateTime::from_timestamp(1_900_000_000, 500_000_000).unwrap();
        assert_eq!(
            timestamp("expiry", Either3::A(date)).unwrap().unix_timestamp(),
            1_900_000_000
        );
        assert_eq!(
            timestamp("expiry", Either3::B("2030-01-01T00:00:00Z".into()))
                .unwrap()
                .unix_timestamp(),
            1_893_456_000
        );
        assert_eq!(
            timestamp("expiry", Either3::C(1_893_456_000.0))
                .unwrap()
                .unix_timestamp(),
            1_893_456_000
        );
        for bad in [
            Either3::B("tomorrow".into()),
            Either3::C(1.5),
            Either3::C(f64::NAN),
            Either3::C(1.0e15), // milliseconds by mistake: far outside the range
        ] {
            let err = timestamp("expiry", bad).unwrap_err();
            assert_eq!(err.code(), "invalid_argument");
        }
    }
}
