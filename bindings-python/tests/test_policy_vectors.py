"""`tests/vectors/middleware.json` through Flask and FastAPI: every request header gets the same
status, body and headers as from the core's request policy (the Rust suite), the server and the
Express middleware. API keys are real (an embedded authority on a temporary SQLite file), JWTs are
checked against the vector file's key set, and the "keys down" validator points at a closed
loopback port. Requests come from loopback (Flask's test client's ``REMOTE_ADDR``; FastAPI's test
client is given ``127.0.0.1``), as ``routes.api_key`` says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from authgate import JwtValidator, ScalekitClient

from .conftest import DAY, fresh_day_window

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "middleware.json"
DOC: Dict[str, Any] = json.loads(VECTORS.read_text())
CASES: List[Dict[str, Any]] = DOC["cases"]
PATHS = {"api_key": "/key", "scope": "/scope", "organization": "/org", "keys_down": "/down"}


class Fixtures:
    def __init__(self, tmp: Path) -> None:
        self.client = ScalekitClient.local(f"sqlite://{tmp / 'policy.db'}", issuer="https://api.example.test")
        org = self.client.organization.create_organization(display_name="Policy vectors").organization.id
        self.valid_key = self.client.tokens.create_token(organization_id=org).token
        self.revoked_key = self.client.tokens.create_token(organization_id=org).token
        self.client.tokens.invalidate_token(token=self.revoked_key)
        tokens = self.client.tokens
        # The cases below must all run in the day window the limited key is used up in.
        fresh_day_window(margin=300)
        self.keys = {
            "{valid_key}": self.valid_key,
            "{revoked_key}": self.revoked_key,
            "{loopback_key}": tokens.create_token(organization_id=org, allowed_cidrs=["127.0.0.0/8", "::1/128"]).token,
            "{network_key}": tokens.create_token(organization_id=org, allowed_cidrs=["192.0.2.0/24"]).token,
            "{limited_key}": tokens.create_token(organization_id=org, rate_limit={"limit": 1, "window_seconds": DAY}).token,
        }
        # The limited key's one validation of the day, used up before the cases run.
        tokens.validate_token(self.keys["{limited_key}"], client_ip="127.0.0.1")
        jwt = DOC["jwt"]
        self.scoped = JwtValidator(issuer=jwt["issuer"], jwks=jwt["jwks"])
        self.down = JwtValidator(issuer=jwt["issuer"], jwks_url=jwt["unreachable_jwks_url"])
        self.scopes: List[str] = jwt["required_scopes"]

    def header(self, case: Dict[str, Any]) -> Dict[str, str]:
        value: Optional[str] = case["authorization"]
        if value is None:
            return {}
        for placeholder, key in self.keys.items():
            value = value.replace(placeholder, key)
        return {"Authorization": value}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    return Fixtures(tmp_path_factory.mktemp("policy"))


def check(case: Dict[str, Any], status: int, body: Any, headers: Callable[[str], Optional[str]], envelope: str = "error") -> None:
    expected = case["expected"]
    name = case["name"]
    assert status == expected["status"], name
    want = expected["body"]
    if envelope != "error" and "error" in want:
        want = {envelope: want["error"]}
    assert body == want, name
    for header, value in expected["headers"].items():
        got = headers(header)
        if value == "{retry_after}":
            # The seconds left in the key's window: any whole number from 1 to 86400.
            assert got is not None and re.fullmatch(r"[1-9][0-9]*", got) and int(got) <= 86_400, f"{name}: {got}"
            continue
        assert got == value, f"{name}: {header}"


def flask_app(f: Fixtures) -> Any:
    from flask import Flask

    from authgate.flask import authenticate_token, require_organization_token, require_scope

    app = Flask(__name__)

    @app.route(PATHS["api_key"])
    @authenticate_token(client=f.client)
    def key() -> Any:
        return {"ok": True}

    @app.route(PATHS["scope"])
    @require_scope(*f.scopes, client=f.scoped)
    def scope() -> Any:
        return {"ok": True}

    @app.route(PATHS["organization"])
    @require_organization_token(client=f.scoped)
    def organization() -> Any:
        return {"ok": True}

    @app.route(PATHS["keys_down"])
    @require_scope(*f.scopes, client=f.down)
    def down() -> Any:
        return {"ok": True}

    return app


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_flask(fixtures: Fixtures, case: Dict[str, Any]) -> None:
    web = flask_app(fixtures).test_client()
    r = web.get(PATHS[case["route"]], headers=fixtures.header(case))
    check(case, r.status_code, r.get_json(), r.headers.get)


def fastapi_app(f: Fixtures, install_handler: bool) -> Any:
    from fastapi import Depends, FastAPI, Security

    from authgate.fastapi import ApiKey, RequireOrganizationToken, RequireScope, init_app

    app = FastAPI()
    if install_handler:
        init_app(app)

    @app.get(PATHS["api_key"])
    async def key(_: Any = Depends(ApiKey(f.client))) -> Any:
        return {"ok": True}

    @app.get(PATHS["scope"])
    async def scope(_: Any = Security(RequireScope(f.scoped, *f.scopes))) -> Any:
        return {"ok": True}

    @app.get(PATHS["organization"])
    async def organization(_: Any = Depends(RequireOrganizationToken(f.scoped))) -> Any:
        return {"ok": True}

    @app.get(PATHS["keys_down"])
    async def down(_: Any = Security(RequireScope(f.down, *f.scopes))) -> Any:
        return {"ok": True}

    return app


@pytest.fixture(scope="module")
def fastapi_clients(fixtures: Fixtures) -> Dict[str, Any]:
    from fastapi.testclient import TestClient

    loopback = ("127.0.0.1", 50000)  # the default peer, "testclient", is no address
    return {
        "error": TestClient(fastapi_app(fixtures, True), client=loopback),
        "detail": TestClient(fastapi_app(fixtures, False), client=loopback),
    }


@pytest.mark.parametrize("envelope", ["error", "detail"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fastapi(fixtures: Fixtures, fastapi_clients: Dict[str, Any], case: Dict[str, Any], envelope: str) -> None:
    """With ``init_app`` the body is ``{"error": …}``; without it FastAPI's ``{"detail": …}``."""
    r = fastapi_clients[envelope].get(PATHS[case["route"]], headers=fixtures.header(case))
    check(case, r.status_code, r.json(), r.headers.get, envelope)


def test_native_policy_matches_vectors() -> None:
    """The native entry points alone: the bearer rule and the answer table."""
    from authgate._native import check_bearer, http_answer

    assert check_bearer("bearer abc") == "abc"
    status, body, headers = check_bearer(None, "api")  # type: ignore[misc]
    assert (status, body, headers) == (401, {"error": "Missing authorization token"}, {"WWW-Authenticate": 'Bearer realm="api"'})
    assert http_answer("keys_unavailable", 503) == (503, {"error": "Authentication service unavailable"}, {"Retry-After": "5"})
    assert http_answer("server_error", 504) == (503, {"error": "Authentication service unavailable"}, {"Retry-After": "5"})
    assert http_answer("not_found", 404) is None
    assert http_answer("unauthenticated", 401) is None  # the client's own credentials: a fault
    answer = http_answer("insufficient_scope", 403, ["a", "b"], None)
    assert answer is not None and answer[2]["WWW-Authenticate"].endswith('scope="a b"')
    assert http_answer("rate_limited", 429, [], "api", 17) == (429, {"error": "Rate limit exceeded"}, {"Retry-After": "17"})
