//! The JWK Set parser on arbitrary bytes: no panic.
#![no_main]

use authgate_core::jwt::{JwksCache, JwksConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = JwksCache::from_static_json(data, JwksConfig::default());
});
