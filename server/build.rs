//! Generates the gRPC services and messages of `server/proto` (the subset of Scalekit's API that
//! `authgate serve` answers) with tonic-prost-build, using the vendored `protoc` (none is needed
//! on the machine). Also writes `authgate_grpc.fds`, the FileDescriptorSet of those files, which
//! the descriptor-comparison test checks against the official SDK's descriptors.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/scalekit/v1/tokens/tokens.proto",
    "proto/scalekit/v1/organizations/organizations.proto",
    "proto/scalekit/v1/users/users.proto",
    "proto/scalekit/v1/clients/clients.proto",
    "proto/scalekit/v1/commons/commons.proto",
    "proto/scalekit/v1/errdetails/errdetails.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    let includes = [PathBuf::from("proto"), well_known];
    let protos: Vec<PathBuf> = PROTOS.iter().map(PathBuf::from).collect();
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .file_descriptor_set_path(out.join("authgate_grpc.fds"))
        .emit_rerun_if_changed(false)
        .compile_with_config(config, &protos, &includes)?;
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}
