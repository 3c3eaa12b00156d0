//! The JWT decoder (compact serialization, header and claims JSON) on arbitrary input: no panic,
//! and nothing verifies without a signature by the one static key.
#![no_main]

use std::sync::OnceLock;

use authgate_core::jwt::{JwtValidator, KeySource, SyncValidation, ValidatorConfig};
use libfuzzer_sys::fuzz_target;

/// RFC 8037 A.2's Ed25519 public key: arbitrary input never carries a valid signature by it.
const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fn validator() -> &'static JwtValidator {
    static V: OnceLock<JwtValidator> = OnceLock::new();
    V.get_or_init(|| {
        let mut c = ValidatorConfig::new(KeySource::StaticJson(JWKS.to_owned()));
        c.token_cache_capacity = 0;
        JwtValidator::new(c).expect("validator")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        match validator().try_validate(token) {
            SyncValidation::Done(result) => assert!(result.is_err()),
            SyncValidation::NeedsFetch => unreachable!("static keys never fetch"),
        }
    }
});
