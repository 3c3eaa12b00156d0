//! The served gRPC definitions (`server/proto`, compiled by `build.rs` into a FileDescriptorSet)
//! compared field by field with the official Scalekit Python SDK's descriptors, by
//! `tests/sdk/descriptors.py compare`.
//!
//! The comparison needs a Python with `scalekit-sdk-python==2.21.0` in `AUTHGATE_SDK_PYTHON`
//! (`make test-rust` and `make test-sdk` set it), so it is `#[ignore]`d, and reported as such, in
//! a bare `cargo test`; run without that variable it fails instead of passing unchecked.

use std::path::PathBuf;
use std::process::Command;

/// The FileDescriptorSet the build script wrote.
const FDS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/authgate_grpc.fds"));

#[test]
fn the_build_wrote_the_descriptor_set() {
    assert!(FDS.len() > 1000, "the build wrote no descriptor set");
}

#[test]
#[ignore = "needs AUTHGATE_SDK_PYTHON, a Python with scalekit-sdk-python (make test-rust / test-sdk)"]
fn served_messages_match_the_official_sdk() {
    let python = std::env::var_os("AUTHGATE_SDK_PYTHON")
        .expect("AUTHGATE_SDK_PYTHON: a Python with scalekit-sdk-python==2.21.0 (make test-sdk sets it)");
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
