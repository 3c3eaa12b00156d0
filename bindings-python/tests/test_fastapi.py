"""`authgate.fastapi` end to end: TestClient over the real SDK, plus real uvicorn on loopback
to show that a slow key fetch does not block the event loop."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from typing import Any, Dict, Iterator

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Security
from fastapi.testclient import TestClient

from authgate import CreateUser, JwtValidator, ScalekitClient, TokenInfo
from authgate.fastapi import ApiKey, RequireScope, init_app

from .conftest import DAY, M2M, Server, fresh_day_window, unique, wait_for_refusals


def make_app(client: ScalekitClient, install: bool = True) -> FastAPI:
    app = FastAPI()
    if install:
        init_app(app, client)

    @app.get("/api/resources")
    async def resources(info: TokenInfo = Depends(ApiKey(client))) -> Dict[str, Any]:
        return {"org_id": info.organization_id, "user_id": info.user_id}

    @app.post("/deploy")
    def deploy(claims: Dict[str, Any] = Security(RequireScope(client, "deploy:applications"))) -> Dict[str, Any]:
        return {"client": claims["sub"]}

    @app.get("/admin")
    async def admin(claims: Dict[str, Any] = Security(RequireScope(client), scopes=["admin"])) -> Dict[str, Any]:
        return {"ok": True}

    @app.get("/bound")
    async def bound(claims: Dict[str, Any] = Security(RequireScope("read:deployments"))) -> Dict[str, Any]:
        return {"scopes": claims["scopes"]}

    return app


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_key_dependency(client: ScalekitClient, org_id: str) -> None:
    user = client.users.create_user_and_membership(org_id, CreateUser(email=f"{unique('u')}@acme.test")).user
    key = client.tokens.create_token(organization_id=org_id, user_id=user.id)
    with TestClient(make_app(client)) as web:
        ok = web.get("/api/resources", headers=bearer(key.token))
        assert ok.status_code == 200 and ok.json() == {"org_id": org_id, "user_id": user.id}

        missing = web.get("/api/resources")
        assert missing.status_code == 401 and missing.json() == {"error": "Missing authorization token"}
        assert missing.headers["www-authenticate"] == 'Bearer realm="api"'

        client.tokens.invalidate_token(key.token)
        revoked = web.get("/api/resources", headers=bearer(key.token))
        assert revoked.status_code == 401 and revoked.json() == {"error": "Invalid or expired token"}
        assert 'error="invalid_token"' in revoked.headers["www-authenticate"]


def test_scope_dependency(client: ScalekitClient, m2m: M2M) -> None:
    token = client.generate_client_token(m2m.client_id, m2m.secret)
    with TestClient(make_app(client)) as web:
        ok = web.post("/deploy", headers=bearer(token))
        assert ok.status_code == 200 and ok.json() == {"client": m2m.client_id}
        assert web.get("/bound", headers=bearer(token)).json() == {"scopes": ["deploy:applications", "read:deployments"]}

        denied = web.get("/admin", headers=bearer(token))
        assert denied.status_code == 403 and denied.json() == {"error": "Insufficient permissions"}
        assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
        assert 'scope="admin"' in denied.headers["www-authenticate"]

        header, payload, signature = token.split(".")
        tampered = web.get("/admin", headers=bearer(f"{header}.{payload[:-3]}AAA.{signature}"))
        assert tampered.status_code == 401 and 'error="invalid_token"' in tampered.headers["www-authenticate"]
        assert web.post("/deploy").status_code == 401


def test_without_init_app_statuses_and_headers_hold(remote_client: ScalekitClient) -> None:
    with TestClient(make_app(remote_client, install=False), raise_server_exceptions=False) as web:
        missing = web.get("/api/resources")
        assert missing.status_code == 401 and missing.json() == {"detail": "Missing authorization token"}
        assert missing.headers["www-authenticate"].startswith("Bearer")
        # No client bound: a clear server error, not an authentication answer.
        assert web.get("/bound", headers=bearer("x.y.z")).status_code == 500


def test_openapi_declares_the_bearer_scheme(remote_client: ScalekitClient) -> None:
    schema = TestClient(make_app(remote_client)).get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values()] == ["bearer"]
    name = next(iter(schemes))
    assert schema["paths"]["/api/resources"]["get"]["security"] == [{name: []}]
    assert schema["paths"]["/deploy"]["post"]["security"] == [{name: []}]


class SlowJwks(http.server.BaseHTTPRequestHandler):
    """Serves a JWKS once `release` is set (an event, not a delay); sets `requested` on arrival."""

    jwks = b""
    requested = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        SlowJwks.requested.set()
        SlowJwks.release.wait(timeout=60)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.jwks)))
        self.end_headers()
        self.wfile.write(self.jwks)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def slow_jwks(server: Server) -> Iterator[str]:
    SlowJwks.jwks = httpx.get(f"{server.url}/keys").content
    SlowJwks.requested = threading.Event()
    SlowJwks.release = threading.Event()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowJwks)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/keys"
    SlowJwks.release.set()
    httpd.shutdown()
    httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_key_fetch_does_not_block_the_event_loop(remote_client: ScalekitClient, server: Server, slow_jwks: str) -> None:
    validator = JwtValidator(issuer=server.url, jwks_url=slow_jwks)
    app = FastAPI()

    @app.get("/jwt")
    async def jwt(claims: Dict[str, Any] = Security(RequireScope(validator, "openid"))) -> Dict[str, Any]:
        return {"sub": claims["sub"]}

    @app.get("/health")
    async def health() -> Dict[str, str]:
        return {"status": "ok"}

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not uv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        token = remote_client.get_client_access_token()
        result: Dict[str, Any] = {}

        def slow_request() -> None:
            result["response"] = httpx.get(f"{base}/jwt", headers=bearer(token), timeout=10)

        worker = threading.Thread(target=slow_request)
        worker.start()
        # The /jwt request is now waiting for the JWKS, which is held until released: /health
        # can only answer if that wait does not block the event loop.
        assert SlowJwks.requested.wait(timeout=30), "the key fetch never started"
        health = httpx.get(f"{base}/health", timeout=30)
        assert health.status_code == 200
        assert "response" not in result and not SlowJwks.release.is_set(), "/jwt was still waiting"
        SlowJwks.release.set()
        worker.join(timeout=30)
        assert result["response"].status_code == 200 and result["response"].json()["sub"].startswith("skc_")
        # Keys are cached now: the next request is verified inline.
        assert validator.try_validate(token) is not None
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def test_networks_rate_limits_and_trusted_proxies(client: ScalekitClient, org_id: str) -> None:
    """``ApiKey`` passes the request's address (``X-Forwarded-For`` only from a trusted proxy);
    a key over its rate limit is answered 429 with ``Retry-After``."""
    app = FastAPI()
    init_app(app)
    behind_proxy = ApiKey(client, trusted_proxies=["10.0.0.0/8", "2001:db8::/48"])

    @app.get("/key")
    async def key(info: TokenInfo = Depends(behind_proxy)) -> Dict[str, Any]:
        return {"org": info.organization_id}

    @app.get("/direct")
    async def direct(info: TokenInfo = Depends(ApiKey(client))) -> Dict[str, Any]:
        return {"ok": True}

    office = client.tokens.create_token(organization_id=org_id, allowed_cidrs=["198.51.100.0/24"]).token
    forwarded = {**bearer(office), "X-Forwarded-For": "198.51.100.7"}
    with TestClient(app, client=("10.0.0.2", 40000)) as proxy:
        r = proxy.get("/key", headers=forwarded)
        assert r.status_code == 200 and r.json() == {"org": org_id}
        # No trusted proxies on this route: the header is not believed.
        r = proxy.get("/direct", headers=forwarded)
        assert r.status_code == 401 and r.json() == {"error": "Invalid or expired token"}
        # Only the nearest untrusted entry counts.
        r = proxy.get("/key", headers={**bearer(office), "X-Forwarded-For": "198.51.100.7, 203.0.113.5"})
        assert r.status_code == 401
    with TestClient(app, client=("203.0.113.5", 40000)) as outsider:
        assert outsider.get("/key", headers=forwarded).status_code == 401
    with TestClient(app, client=("198.51.100.9", 40000)) as inside:
        assert inside.get("/direct", headers=bearer(office)).status_code == 200
        fresh_day_window()
        limited = client.tokens.create_token(organization_id=org_id, rate_limit={"limit": 1, "window_seconds": DAY}).token
        assert inside.get("/direct", headers=bearer(limited)).status_code == 200
        r = inside.get("/direct", headers=bearer(limited))
        assert r.status_code == 429 and r.json() == {"error": "Rate limit exceeded"}
        assert 1 <= int(r.headers["retry-after"]) <= 86_400 and "www-authenticate" not in r.headers
    # The test client's default peer ("testclient") is no address: a restricted key is refused.
    with TestClient(app) as unknown:
        assert unknown.get("/direct", headers=bearer(office)).status_code == 401
    refused = sorted(e.source_address or "-" for e in wait_for_refusals(client, org_id, 4))
    assert refused == ["-", "10.0.0.2", "203.0.113.5", "203.0.113.5"]


def test_trusted_proxies_are_checked_when_the_dependency_is_created(remote_client: ScalekitClient) -> None:
    from authgate import ScalekitBadRequestException

    with pytest.raises(ScalekitBadRequestException) as caught:
        ApiKey(remote_client, trusted_proxies=["10.0.0.1/8"])
    assert caught.value.code == "invalid_argument" and "10.0.0.0/8" in str(caught.value)
    with pytest.raises(TypeError):
        ApiKey(remote_client, trusted_proxies="10.0.0.0/8")
