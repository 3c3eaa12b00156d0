//! Test harness: starts the real `authgate` binary (`serve`) on a free loopback port, with a
//! temporary SQLite file (or a given database URL) and provisioned environment credentials,
//! and captures its stdout and stderr. Also the setup the suites share (an organization with an
//! M2M client, an admin token, the CLI on a server's database) and the load bench
//! (`benches/load.rs`) reuses.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use authgate_core::model::{
    CreateOrganization, CreateOrganizationClientResponse, Organization, OrganizationClient,
};
use authgate_core::remote::{RemoteClient, RemoteOptions};
use authgate_core::{AuthApi, Secret};

/// The stdout line prefix announcing the bound address.
pub const LISTENING: &str = "authgate listening on ";

/// A random lowercase-hex string of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fresh environment credentials: a `skc_…` id and a random secret.
pub fn random_credentials() -> (String, String) {
    (format!("skc_{}", random_hex(8)), random_hex(24))
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Database URL; `None` = a fresh SQLite file in a temp dir.
    pub database: Option<String>,
    /// Environment credentials to provision (`None` = random ones).
    pub credentials: Option<(String, String)>,
    /// Pass the credentials in `AUTHGATE_CLIENT_ID`/`AUTHGATE_CLIENT_SECRET` (default true).
    /// When false, the server creates and prints its own on an empty store.
    pub provision: bool,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Extra arguments after `serve`.
    pub args: Vec<String>,
    /// Listen address (default `127.0.0.1:0`).
    pub listen: String,
}

impl Options {
    /// Options for one of several nodes behind one load balancer: they share one issuer (the
    /// public environment URL), `AUTHGATE_ISSUER`.
    pub fn shared_issuer() -> Options {
        let mut options = Options::default();
        options
            .env
            .push(("AUTHGATE_ISSUER".into(), "http://auth.shared.test".into()));
        options
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            database: None,
            credentials: None,
            provision: true,
            env: vec![("AUTHGATE_LOG".into(), "debug".into())],
            args: Vec::new(),
            listen: "127.0.0.1:0".into(),
        }
    }
}

/// A running `authgate serve`; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// Environment client id.
    pub client_id: String,
    /// Environment client secret.
    pub client_secret: String,
    /// The database URL it runs on.
    pub database: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    dir: Option<tempfile::TempDir>,
}

fn pump(stream: impl Read + Send + 'static, sink: Arc<Mutex<String>>, lines: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(tx) = &lines {
                let _ = tx.send(line.clone());
            }
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
}

/// The `authgate` binary under test: this build's, or `AUTHGATE_TEST_BINARY` (to run these tests
/// against another build, e.g. the one before a fix, and see them fail there).
pub fn binary() -> PathBuf {
    match std::env::var_os("AUTHGATE_TEST_BINARY") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_authgate")),
    }
}

/// Runs `cmd` with `stdin` fed to it (an empty stdin when `None`), capturing its output.
pub fn run_command(mut cmd: Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn authgate");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// The JSON on the stdout of command `args`, which must have succeeded.
pub fn stdout_json(args: &[&str], out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Asserts that command `args` exited with `status`, printed `error: <code>: …` on stderr and
/// nothing on stdout; returns stderr.
pub fn assert_fails(args: &[&str], out: &Output, status: i32, code: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: {code}: ")),
        "{args:?}: expected {code}, got {stderr}"
    );
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout on failure");
    stderr
}

/// A JSON string's value.
pub fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

impl Server {
    /// Starts a server with default options.
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    /// Starts a server and waits until it listens.
    pub fn start_with(options: Options) -> Server {
        let (dir, database) = match options.database {
            Some(url) => (None, url),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("authgate.db").display());
                (Some(dir), url)
            }
        };
        let (client_id, client_secret) = options.credentials.unwrap_or_else(random_credentials);
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--listen")
            .arg(&options.listen)
            .args(&options.args)
            .env("AUTHGATE_DATABASE_URL", &database)
            .env_remove("AUTHGATE_LISTEN")
            .env_remove("AUTHGATE_ISSUER")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if options.provision {
            cmd.env("AUTHGATE_CLIENT_ID", &client_id)
                .env("AUTHGATE_CLIENT_SECRET", &client_secret);
        } else {
            cmd.env_remove("AUTHGATE_CLIENT_ID")
                .env_remove("AUTHGATE_CLIENT_SECRET");
        }
        // On PostgreSQL the server refuses to start without a master key; the tests share their
        // databases with CLI runs that have none, so they run it as a development server
        // (`serve_defaults.rs` checks the refusal itself).
        if database.starts_with("postgres") {
            cmd.env("AUTHGATE_INSECURE_DEV", "true");
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn authgate serve");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        pump(child.stdout.take().unwrap(), stdout.clone(), Some(tx));
        pump(child.stderr.take().unwrap(), stderr.clone(), None);
        let url = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(LISTENING) {
                        break rest.split_whitespace().next().unwrap().to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("server did not start; stderr:\n{}", stderr.lock().unwrap());
                }
            }
        };
        Server {
            child,
            url,
            client_id,
            client_secret,
            database,
            stdout,
            stderr,
            dir,
        }
    }

    /// Everything the server wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything the server wrote to stderr (its log) so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The temp dir holding the SQLite file, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// A remote client authenticated with the environment credentials.
    pub fn remote(&self) -> RemoteClient {
        RemoteClient::new(
            &self.url,
            self.client_id.clone(),
            Secret::new(self.client_secret.clone()),
            RemoteOptions::default(),
        )
        .expect("remote client")
    }

    /// `url + path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `authgate ARGS…` on the server's database (with the default activation delay),
    /// asserts that it succeeds and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> Vec<u8> {
        let output = Command::new(binary())
            .args(args)
            .env("AUTHGATE_DATABASE_URL", &self.database)
            .env_remove("AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY")
            .output()
            .expect("run authgate");
        assert!(
            output.status.success(),
            "authgate {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// The status of `GET /api/v1/organizations` with `token` as the bearer: 200 when the
    /// management API accepts it.
    pub async fn management_status(&self, token: &str) -> reqwest::StatusCode {
        http()
            .get(self.at("/api/v1/organizations"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        http()
            .get(self.at("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of one series (name and labels, as printed) in `/metrics`.
    pub async fn metric(&self, series: &str) -> u64 {
        metric(&self.metrics().await, series)
    }

    /// Like [`Server::terminate`], but hands back the temp dir so the store outlives the process.
    pub fn terminate_keeping_store(mut self) -> (Option<tempfile::TempDir>, std::process::ExitStatus) {
        let dir = self.dir.take();
        (dir, self.terminate())
    }

    /// Kills the server with SIGKILL (no shutdown of any kind), waits for it, and hands back the
    /// temp dir so the store outlives the process.
    pub fn kill_keeping_store(mut self) -> Option<tempfile::TempDir> {
        let dir = self.dir.take();
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
        dir
    }

    /// Sends SIGTERM and waits for the exit status (bounded).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("server did not exit within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reqwest client for raw HTTP checks.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An environment access token from `/oauth/token`.
pub async fn admin_token(server: &Server) -> String {
    let response = http()
        .post(server.at("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", server.client_id.as_str()),
            ("client_secret", server.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// An organization named `name` with one M2M client made of `client`.
pub async fn org_with_client(
    api: &impl AuthApi,
    name: &str,
    client: OrganizationClient,
) -> (Organization, CreateOrganizationClientResponse) {
    let org = api
        .create_organization(CreateOrganization {
            display_name: name.into(),
            external_id: None,
        })
        .await
        .unwrap();
    let created = api.create_organization_client(&org.id, client).await.unwrap();
    (org, created)
}

/// An M2M client named `name` granted `scopes`, every other field at its default.
pub fn client_input(name: &str, scopes: &[&str]) -> OrganizationClient {
    OrganizationClient {
        name: Some(name.into()),
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        ..OrganizationClient::default()
    }
}

/// The `kid` in a JWT's header.
pub fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// A multi-threaded runtime with two workers, for tests that drive servers from a plain `#[test]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A database created for one test on the cluster of `AUTHGATE_TEST_DATABASE_URL`, dropped (with
/// any connection still open to it) when this guard is: declare it before the servers using it.
pub struct PgDatabase {
    /// The database's URL.
    pub url: String,
    admin_url: String,
    name: String,
}

/// Runs `sql` on `admin_url`, on a thread of its own (callers may be inside an async runtime).
fn pg_admin(admin_url: &str, sql: String) {
    let admin_url = admin_url.to_owned();
    std::thread::spawn(move || pg_admin_here(&admin_url, sql))
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn pg_admin_here(admin_url: &str, sql: String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.close().await.ok();
    });
}

impl PgDatabase {
    /// Creates a fresh database on `admin_url`'s cluster.
    pub fn create(admin_url: &str, prefix: &str) -> PgDatabase {
        let name = format!("{prefix}_{}", random_hex(6));
        pg_admin(admin_url, format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(admin_url).expect("database URL");
        url.set_path(&format!("/{name}"));
        PgDatabase {
            url: url.to_string(),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            pg_admin_here(&admin_url, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.name);
        }
    }
}

/// A fresh PostgreSQL database for a test marked
/// `#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]`:
/// such a test runs only on purpose (`--include-ignored`), so without the variable it FAILS.
pub fn postgres_database(test: &str) -> PgDatabase {
    let admin_url = std::env::var("AUTHGATE_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("{test}: AUTHGATE_TEST_DATABASE_URL is not set, so this PostgreSQL test cannot run")
    });
    PgDatabase::create(&admin_url, "authgate_srv")
}

/// A fresh PostgreSQL database when `AUTHGATE_TEST_DATABASE_URL` is set, else `None` (for the
/// load bench, which measures PostgreSQL only when it has one).
pub fn fresh_postgres_database() -> Option<PgDatabase> {
    let admin_url = std::env::var("AUTHGATE_TEST_DATABASE_URL").ok()?;
    Some(PgDatabase::create(&admin_url, "authgate_srv"))
}

/// Runs `sql` directly on the store at `database` (a `sqlite://` file or a PostgreSQL URL), as
/// the tests do to make time pass without waiting (moving a scheduled time into the past).
pub fn exec_sql(database: &str, sql: &str) {
    if let Some(path) = database.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        let c = rusqlite::Connection::open(path).expect("open the SQLite store");
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    } else {
        pg_admin(database, sql.to_owned());
    }
}

/// Time passing, without waiting for it: moves the pending signing key's activation time (set
/// an hour or more away, so that nothing races it) to now, as if its delay had run out.
pub fn pending_key_falls_due(database: &str) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    exec_sql(
        database,
        &format!("UPDATE authgate_signing_keys SET activate_at = {now_ms} WHERE state = 'pending'"),
    );
}

/// Waits (up to a generous deadline) until `cond` holds; false if it never did.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `authgate` CLI, run as a real process on a fresh SQLite file (or a PostgreSQL database),
/// with none of the caller's `AUTHGATE_*` settings leaking in.
pub struct Cli {
    dir: tempfile::TempDir,
    /// The database URL every command gets.
    pub url: String,
}

impl Cli {
    /// On a fresh SQLite file in a temporary directory.
    pub fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("authgate.db").display());
        Cli { dir, url }
    }

    /// On a database created for the test on `AUTHGATE_TEST_DATABASE_URL`'s cluster (dropped when
    /// the returned [`PgDatabase`] is); panics when that variable is unset.
    pub fn postgres(test: &str) -> (Cli, PgDatabase) {
        let db = postgres_database(test);
        let dir = tempfile::tempdir().unwrap();
        let cli = Cli {
            dir,
            url: db.url.clone(),
        };
        (cli, db)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.current_dir(self.dir.path())
            .env_remove("AUTHGATE_KEY_PEPPER")
            .env_remove("AUTHGATE_MASTER_KEY")
            .env_remove("AUTHGATE_ISSUER")
            .env_remove("AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY")
            .env("AUTHGATE_DATABASE_URL", &self.url)
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_command(self.command(args), stdin)
    }

    /// Runs with `--json`; the command must succeed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        self.json_in(args, None)
    }

    pub fn json_in(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        stdout_json(args, &self.run(&all, stdin))
    }

    /// Runs without `--json`; the command must succeed.
    pub fn text(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail with exit status 1 and `code` on stderr; returns stderr.
    pub fn fails(&self, args: &[&str], code: &str) -> String {
        self.fails_in(args, None, code)
    }

    pub fn fails_in(&self, args: &[&str], stdin: Option<&str>, code: &str) -> String {
        assert_fails(args, &self.run(args, stdin), 1, code)
    }
}

/// A TCP relay to `upstream` on a free loopback port that can be made to stall: after
/// [`BlackHole::stall`] it keeps every connection open and accepts new ones, but forwards
/// nothing in either direction — a database that stopped answering without closing anything.
pub struct BlackHole {
    /// The loopback port to connect to.
    pub port: u16,
    stalled: Arc<std::sync::atomic::AtomicBool>,
}

impl BlackHole {
    pub fn start(upstream: String) -> BlackHole {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stalled.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if flag.load(Ordering::SeqCst) {
                    // Accepted, never answered (kept open until the test process ends).
                    std::mem::forget(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => return,
                                Ok(n) if !flag.load(Ordering::SeqCst) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        return;
                                    }
                                }
                                Ok(_) => {} // stalled: swallowed
                            }
                        }
                    });
                }
            }
        });
        BlackHole { port, stalled }
    }

    /// From now on nothing is forwarded.
    pub fn stall(&self) {
        self.stalled.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The value of one series (name and labels, as printed) in a `/metrics` text.
pub fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
}

/// Two `authgate serve` nodes behind one public issuer, on one store, with the same environment
/// credentials: on `database`, or on a fresh SQLite file (the first node's) with `None`. `env` is
/// set for both.
pub fn two_nodes(database: Option<String>, env: &[(&str, &str)]) -> (Server, Server) {
    let options = |database, credentials| {
        let mut options = Options {
            database,
            credentials: Some(credentials),
            ..Options::shared_issuer()
        };
        options
            .env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        options
    };
    let first = Server::start_with(options(database, random_credentials()));
    let second = Server::start_with(options(
        Some(first.database.clone()),
        (first.client_id.clone(), first.client_secret.clone()),
    ));
    (first, second)
}
