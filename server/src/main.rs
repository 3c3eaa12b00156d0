//! `authgate`: the operator CLI and the HTTP server.

mod serve;

fn main() {
    println!("authgate {}", env!("CARGO_PKG_VERSION"));
}
