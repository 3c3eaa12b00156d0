//! The served gRPC definitions (`server/proto`, compiled by `build.rs` into a FileDescriptorSet)
//! compared field by field with the official Scalekit Python SDK's descriptors, by
//! `tests/sdk/descriptors.py compare`.
//!
//! Needs a Python with `scalekit-sdk-python==2.21.0`: `AUTHGATE_SDK_PYTHON` (set by `make
//! test-sdk`). Without it the test only checks that the descriptor set is there and says so.

use std::path::PathBuf;
use std::process::Command;

/// The FileDescriptorSet the build script wrote.
const FDS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/authgate_grpc.fds"));

#[test]
fn served_messages_match_the_official_sdk() {
    assert!(FDS.len() > 1000, "the build wrote no descriptor set");
    let Some(python) = std::env::var_os("AUTHGATE_SDK_PYTHON") else {
        eprintln!(
            "note: AUTHGATE_SDK_PYTHON is not set: the comparison with the SDK's descriptors is \
             skipped (make test-sdk runs it)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fds = dir.path().join("authgate_grpc.fds");
    std::fs::write(&fds, FDS).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/sdk/descriptors.py");
    let out = Command::new(python)
        .arg(script)
        .arg("compare")
        .arg(&fds)
        .output()
        .expect("run descriptors.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "descriptor mismatch:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(": 0 mismatches"), "{stdout}");
}
