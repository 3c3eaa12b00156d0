//! Client-credentials token fetcher.
