"""Fixtures: the real `authgate serve` binary on a free loopback port with a temporary SQLite
file, and a `ScalekitClient` in each mode (remote against that server, embedded on its own
SQLite file, and embedded on PostgreSQL: a database created for this session on the cluster of
`AUTHGATE_TEST_DATABASE_URL` and dropped at its end; without that variable the PostgreSQL runs
are reported as skipped, or fail when `AUTHGATE_REQUIRE_POSTGRES=1`, as in CI)."""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

import authgate
from authgate import OrganizationClient, ScalekitClient

REPO = Path(__file__).resolve().parents[2]
LISTENING = "authgate listening on "
START_TIMEOUT = 60.0


def authgate_binary() -> Path:
    """`AUTHGATE_BIN`, else the debug build in the repository's target dir."""
    if os.environ.get("AUTHGATE_BIN"):
        return Path(os.environ["AUTHGATE_BIN"])
    triple = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    for candidate in (REPO / "target" / triple / "debug" / "authgate", REPO / "target" / "debug" / "authgate"):
        if candidate.exists():
            return candidate
    raise RuntimeError("authgate binary not found: run `cargo build -p authgate-server` or set AUTHGATE_BIN")


@dataclass
class Server:
    """A running `authgate serve`."""

    url: str
    client_id: str
    client_secret: str
    process: "subprocess.Popen[str]"
    log: Path

    def client(self) -> ScalekitClient:
        return ScalekitClient(self.url, self.client_id, self.client_secret)


def start_server(directory: Path) -> Server:
    client_id = f"skc_{secrets.token_hex(8)}"
    client_secret = secrets.token_urlsafe(32)
    log = directory / "authgate.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    env.update(
        AUTHGATE_DATABASE_URL=f"sqlite://{directory / 'authgate.db'}",
        AUTHGATE_CLIENT_ID=client_id,
        AUTHGATE_CLIENT_SECRET=client_secret,
        AUTHGATE_LOG="warn",
    )
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [str(authgate_binary()), "serve", "--listen", "127.0.0.1:0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    lines: "queue.Queue[str]" = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=START_TIMEOUT)
            if line.startswith(LISTENING):
                url = line[len(LISTENING) :].split()[0]
                return Server(url, client_id, client_secret, process, log)
    except queue.Empty:
        process.kill()
        raise RuntimeError(f"authgate serve did not start; log:\n{log.read_text()}") from None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.process.terminate()
    try:
        srv.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.process.kill()
        srv.process.wait()
    if srv.process.stdout is not None:
        srv.process.stdout.close()


@pytest.fixture(scope="session")
def remote_client(server: Server) -> ScalekitClient:
    return server.client()


@pytest.fixture(scope="session")
def embedded_client(tmp_path_factory: pytest.TempPathFactory) -> ScalekitClient:
    path = tmp_path_factory.mktemp("embedded") / "authgate.db"
    return ScalekitClient.local(f"sqlite://{path}", issuer="https://api.example.test")


POSTGRES_URL = os.environ.get("AUTHGATE_TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("AUTHGATE_REQUIRE_POSTGRES") == "1"
NEEDS_POSTGRES = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"


def psql(admin_url: str, sql: str) -> None:
    """Runs one statement with `psql` (from `AUTHGATE_TEST_PG_BIN`, else `PATH`)."""
    pg_bin = os.environ.get("AUTHGATE_TEST_PG_BIN")
    exe = os.path.join(pg_bin, "psql") if pg_bin else shutil.which("psql")
    if not exe:
        raise RuntimeError("psql not found: set AUTHGATE_TEST_PG_BIN (scripts/with-postgres does)")
    subprocess.run([exe, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin_url, "-c", sql], check=True)


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_POSTGRES and not POSTGRES_URL:
        raise pytest.UsageError("AUTHGATE_REQUIRE_POSTGRES=1 but AUTHGATE_TEST_DATABASE_URL is not set")


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A database of its own for this session on the cluster, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip(NEEDS_POSTGRES)
    name = f"authgate_py_{secrets.token_hex(6)}"
    psql(POSTGRES_URL, f"CREATE DATABASE {name}")
    try:
        yield urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    finally:
        psql(POSTGRES_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def embedded_postgres_client(postgres_database_url: str) -> ScalekitClient:
    return ScalekitClient.local(postgres_database_url, issuer="https://api.example.test")


MODES = {
    "remote": ("remote_client", "remote"),
    "embedded": ("embedded_client", "embedded"),
    "embedded-postgres": ("embedded_postgres_client", "embedded"),
}


@pytest.fixture(params=list(MODES))
def client(request: pytest.FixtureRequest) -> ScalekitClient:
    """The same tests run against every mode (embedded on SQLite and on PostgreSQL)."""
    name, mode = MODES[request.param]
    c: ScalekitClient = request.getfixturevalue(name)
    assert c.mode == mode
    return c


#: A day: rate-limit windows are aligned to the Unix epoch, so a test that uses up a daily limit
#: and then expects refusals would see the limit renewed if it ran across midnight UTC.
DAY = 86_400


def fresh_day_window(margin: float = 120.0) -> None:
    """Waits out the end of the current day window when it is less than ``margin`` seconds away."""
    left = DAY - time.time() % DAY
    if left < margin:
        time.sleep(left + 1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def org_id(client: ScalekitClient) -> str:
    """A fresh organization in the client's environment."""
    return client.organization.create_organization(
        organization=authgate.CreateOrganization(display_name="Acme Corp", external_id=unique("acme"))
    ).organization.id


@dataclass
class M2M:
    """An M2M client with its plain secret."""

    organization_id: str
    client_id: str
    secret: str


@pytest.fixture
def m2m(client: ScalekitClient, org_id: str) -> M2M:
    created = client.m2m_client.create_organization_client(
        organization_id=org_id,
        m2m_client=OrganizationClient(
            name="GitHub Actions Deployment Service",
            description="Deploys to production via GitHub Actions",
            scopes=["deploy:applications", "read:deployments"],
            audience=["deployment-api.acmecorp.com"],
            custom_claims=[{"key": "environment", "value": "production_us"}],
            expiry=3600,
        ),
    )
    return M2M(org_id, created.client.client_id, created.plain_secret)


def wait_for_refusals(client: ScalekitClient, organization_id: str, count: int, timeout: float = 20.0) -> list[authgate.AuditEvent]:
    """The audit records of API keys refused for their networks (``api_key.validate``, outcome
    ``failure``) in ``organization_id``, once ``count`` of them are there. They are written off
    the request path, with the usage flush every few seconds: waiting for them also keeps them
    from landing during a later test that compares store snapshots."""
    deadline = time.monotonic() + timeout
    while True:
        events = client.audit.list_events(organization_id=organization_id, action="api_key.validate", page_size=100).events
        if len(events) >= count or time.monotonic() > deadline:
            return list(events)
        time.sleep(0.25)
