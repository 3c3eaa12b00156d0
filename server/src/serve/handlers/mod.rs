//! Request handlers, one module per resource.

pub mod audit;
pub mod clients;
pub mod credentials;
pub mod meta;
pub mod oauth;
pub mod orgs;
pub mod signing_keys;
pub mod tokens;
pub mod users;
