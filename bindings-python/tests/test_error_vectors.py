"""`tests/vectors/errors.json` in Python: every class it names exists in ``authgate.errors``, and
real failures (an embedded authority on a temporary SQLite file, real JWT validators) raise the
listed class with the listed code and statuses. The Rust suite checks the same file against
``Error::code/http_status/grpc_code``; the Node suite checks its classes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

import authgate.errors as errors
from authgate import JwtValidator, ScalekitClient

from .conftest import DAY, fresh_day_window

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
ERRORS: Dict[str, Dict[str, Any]] = {e["code"]: e for e in json.loads((VECTORS / "errors.json").read_text())["errors"]}
MIDDLEWARE = json.loads((VECTORS / "middleware.json").read_text())


def test_every_class_exists() -> None:
    for code, entry in ERRORS.items():
        cls = getattr(errors, entry["python_class"], None)
        assert isinstance(cls, type) and issubclass(cls, errors.ScalekitException), code


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> ScalekitClient:
    path = tmp_path_factory.mktemp("errors") / "errors.db"
    return ScalekitClient.local(f"sqlite://{path}", issuer="https://api.example.test")


def token(name: str) -> str:
    """A JWT of the middleware vectors, by case name."""
    case = next(c for c in MIDDLEWARE["cases"] if c["name"] == name)
    return str(case["authorization"]).split(" ", 1)[1]


def triggers(client: ScalekitClient) -> Dict[str, Callable[[], Any]]:
    jwt = MIDDLEWARE["jwt"]
    scoped = JwtValidator(issuer=jwt["issuer"], jwks=jwt["jwks"])
    down = JwtValidator(issuer=jwt["issuer"], jwks_url=jwt["unreachable_jwks_url"])
    external = f"dup-{uuid.uuid4().hex}"
    org = client.organization.create_organization(display_name="Dup", external_id=external).organization.id
    fresh_day_window()
    limited = client.tokens.create_token(organization_id=org, rate_limit={"limit": 1, "window_seconds": DAY}).token
    client.tokens.validate_token(limited)
    return {
        "invalid_argument": lambda: client.tokens.create_token(organization_id=""),
        "not_found": lambda: client.organization.get_organization("org_404404404"),
        "already_exists": lambda: client.organization.create_organization(display_name="Dup", external_id=external),
        "token_validation_failed": lambda: client.tokens.validate_token("agk_not_a_key"),
        "token_malformed": lambda: scoped.validate("not-a-jwt"),
        "token_expired": lambda: scoped.validate(token("jwt_expired")),
        "invalid_signature": lambda: scoped.validate(token("jwt_bad_signature")),
        "invalid_issuer": lambda: scoped.validate(token("jwt_other_issuer")),
        "insufficient_scope": lambda: scoped.validate(token("jwt_missing_scope"), ["invoices:read"]),
        "keys_unavailable": lambda: down.validate(token("jwt_valid")),
        "invalid_client": lambda: client.generate_client_token("m2morg_404", "wrong-secret"),
        "failed_precondition": lambda: client.get_client_access_token(),
        "rate_limited": lambda: client.tokens.validate_token(limited),
    }


def test_real_failures_raise_the_listed_class(client: ScalekitClient) -> None:
    checked = 0
    for code, call in triggers(client).items():
        entry = ERRORS[code]
        with pytest.raises(errors.ScalekitException) as caught:
            call()
        exc = caught.value
        assert type(exc).__name__ == entry["python_class"], code
        assert exc.code == code
        if isinstance(exc, errors.ScalekitServerException):
            assert int(exc.http_status) == entry["http_status"], code
            assert int(exc.grpc_status) == entry["grpc_status"], code
        checked += 1
    assert checked >= 13
