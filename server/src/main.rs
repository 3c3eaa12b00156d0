//! `authgate`: the operator CLI and the HTTP server.

fn main() {
    println!("authgate {}", env!("CARGO_PKG_VERSION"));
}
