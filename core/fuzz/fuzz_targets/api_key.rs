//! The API-key / client-secret format parser on arbitrary input: total, and never both formats.
#![no_main]

use authgate_core::keys::{is_api_key, is_client_secret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(!(is_api_key(s) && is_client_secret(s)));
    }
});
