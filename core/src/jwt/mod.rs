//! JWT validation against cached JWKS, scope checks and the verified-token cache.
