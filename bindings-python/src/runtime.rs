//! The one tokio runtime of the extension: created on first use, two worker threads.
//!
//! Everything that touches the network or the store runs on it through [`block_on`], with the
//! GIL released, so other Python threads keep running while a call waits. Synchronous work that
//! may start background tasks (a JWKS refresh-ahead) runs inside [`enter`].
//!
//! Nothing creates the runtime before the first call that needs it, so clients and validators
//! may be built at import time in a pre-forking server's master process. A runtime does not
//! survive `fork()` (its threads stay in the parent): `authgate/__init__.py` registers
//! [`mark_forked`] with `os.register_at_fork`, and a child that inherited a runtime gets a clear
//! error instead of a hang.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use tokio::runtime::{EnterGuard, Runtime};

use crate::errors;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
/// Set in a child process forked after the runtime was started.
static INHERITED: AtomicBool = AtomicBool::new(false);

fn runtime() -> PyResult<&'static Runtime> {
    if INHERITED.load(Ordering::Relaxed) {
        return Err(errors::internal(
            "authgate was used in this process's parent before fork(); its background threads do not \
             survive fork. Create the ScalekitClient / JwtValidator / ClientCredentials in each worker \
             process, or make no authgate call before forking (e.g. gunicorn --preload)"
                .to_owned(),
        ));
    }
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("authgate-rt")
            .enable_all()
            .build()
            .map_err(|e| format!("could not start the authgate runtime: {e}"))
    });
    runtime.as_ref().map_err(|e| errors::internal(e.clone()))
}

/// Called in the child after `os.fork()`.
#[pyfunction]
pub fn _after_fork_in_child() {
    if RUNTIME.get().is_some() {
        INHERITED.store(true, Ordering::Relaxed);
    }
}

/// Runs `future` to completion on the runtime with the GIL released, mapping the core error.
pub fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = authgate_core::Result<T>> + Send,
    T: Send,
{
    let runtime = runtime()?;
    py.detach(|| runtime.block_on(future)).map_err(errors::to_py)
}

/// Enters the runtime's context on this thread (for synchronous calls that may spawn).
pub fn enter() -> PyResult<EnterGuard<'static>> {
    Ok(runtime()?.enter())
}
