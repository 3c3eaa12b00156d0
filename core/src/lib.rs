//! # authgate-core
//!
//! Machine-to-machine authentication for web APIs: opaque API keys, OAuth 2.0 client credentials
//! with RS256 access tokens, and fast JWT validation against cached JWKS — one core behind the
//! `authgate` server, the Python package and the Node package.
//!
//! The crate is organised by concern:
//!
//! - [`keys`]: the format of secrets (prefix, CSPRNG body, CRC32 checksum), digests and ids.
//! - [`store`]: persistence on SQLite or PostgreSQL, one schema, migrations applied on open.
//! - [`authority`]: the server-side logic — organizations, users, API keys, M2M clients,
//!   secrets, signing keys and the client-credentials grant.
//! - [`jwt`]: JWT validation against cached JWKS, scope checks, the verified-token cache.
//! - [`oauth`]: a client-credentials token fetcher (cache, refresh-ahead, single-flight).
//! - [`policy`]: the request policy of every HTTP surface: bearer extraction and the answer
//!   (status, body, `WWW-Authenticate`, `Retry-After`) to a rejected request.
//! - [`setup`]: the rules that turn client settings into an [`AuthApi`], its keys and validators.
//! - [`remote`]: an HTTP client of a Scalekit-compatible environment.
//! - [`api`]: [`AuthApi`], the operations both the authority and the remote client offer.
//! - [`audit`]: the audit log's actions and actors, and the request scope naming who acts.
//! - [`error`]: [`Error`], one error type with stable codes.
//! - [`wire`]: what goes on the wire: the error description every transport answers with (and
//!   the way back), the REST envelopes the server and the remote client share.
#![deny(missing_docs)]

pub mod api;
pub mod audit;
pub mod authority;
pub mod error;
pub(crate) mod flight;
pub mod jwt;
pub mod keys;
pub mod model;
pub(crate) mod net;
pub mod oauth;
pub mod policy;
pub mod remote;
pub mod setup;
pub mod store;
pub mod wire;

pub use api::AuthApi;
pub use error::{Error, Result, TokenError};
pub use model::Secret;
