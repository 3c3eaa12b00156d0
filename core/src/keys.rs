//! Secret formats, digests and identifiers.
