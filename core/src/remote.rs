//! HTTP client of a Scalekit-compatible environment.
