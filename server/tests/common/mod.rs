//! Test harness: starts the real `authgate` binary (`serve`) on a free loopback port, with a
//! temporary SQLite file (or a given database URL) and provisioned environment credentials,
//! and captures its stdout and stderr.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use authgate_core::Secret;
use authgate_core::remote::{RemoteClient, RemoteOptions};

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

/// The `authgate` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_authgate"))
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
        let (client_id, client_secret) = options
            .credentials
            .unwrap_or_else(|| (format!("skc_{}", random_hex(8)), random_hex(24)));
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

    /// Like [`Server::terminate`], but hands back the temp dir so the store outlives the process.
    pub fn terminate_keeping_store(mut self) -> (Option<tempfile::TempDir>, std::process::ExitStatus) {
        let dir = self.dir.take();
        (dir, self.terminate())
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

/// A fresh PostgreSQL database on the server of `AUTHGATE_TEST_DATABASE_URL`, or `None` (with a
/// note printed) when the variable is unset.
pub fn fresh_postgres_database(test: &str) -> Option<String> {
    let Ok(base) = std::env::var("AUTHGATE_TEST_DATABASE_URL") else {
        println!("skipped {test}: AUTHGATE_TEST_DATABASE_URL is not set (scripts/with-postgres runs it)");
        return None;
    };
    let name = format!("authgate_srv_{}", random_hex(6));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
    });
    let mut url = url::Url::parse(&base).expect("database URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}
