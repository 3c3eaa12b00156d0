//! The one tokio runtime of the extension: created on first use, two worker threads.
//!
//! Everything that touches the network or the store runs on it through [`block_on`], with the
//! GIL released, so other Python threads keep running while a call waits.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

struct Shared {
    runtime: Runtime,
    /// The process that built it: worker threads do not survive `fork()`.
    pid: u32,
}

static RUNTIME: OnceLock<Result<Shared, String>> = OnceLock::new();

fn shared() -> PyResult<&'static Shared> {
    let shared = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("authgate-rt")
            .enable_all()
            .build()
            .map(|runtime| Shared {
                runtime,
                pid: std::process::id(),
            })
            .map_err(|e| format!("could not start the authgate runtime: {e}"))
    });
    let shared = shared.as_ref().map_err(|e| errors::internal(e.clone()))?;
    if shared.pid != std::process::id() {
        // A runtime inherited through fork() has no worker threads: waiting on it would hang.
        return Err(errors::internal(
            "authgate was used before this process was forked; create the ScalekitClient / \
             JwtValidator in each worker process (e.g. gunicorn without --preload, or in post_fork)"
                .to_owned(),
        ));
    }
    Ok(shared)
}

/// Runs `future` to completion on the runtime with the GIL released, mapping the core error.
pub fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = authgate_core::Result<T>> + Send,
    T: Send,
{
    let shared = shared()?;
    py.detach(|| shared.runtime.block_on(future))
        .map_err(errors::to_py)
}
