//! The `authgate` server and operator CLI as a library: the binary (`src/main.rs`) is a thin
//! `main` over it, and integration tests reach the server's own pieces (the error answer path,
//! the router) through it.

pub mod cli;
pub mod console;
pub mod grpc;
pub mod serve;
