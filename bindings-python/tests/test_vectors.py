"""The shared JWT vectors (`tests/vectors/*.json`, see their README) through `JwtValidator`:
every case must give the outcome, error code, HTTP status and scopes the Rust suite gets —
with the verified-token cache off, and on (twice, so the second run is a cache hit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from authgate import JwtValidator, ScalekitException, ScalekitInsufficientScopeException, VerifiedToken

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"


def cases() -> Iterator[Tuple[str, Dict[str, Any]]]:
    for path in sorted(VECTORS.glob("*.json")):
        doc = json.loads(path.read_text())
        # The JWT vectors only (not keys.json, nor the middleware / errors / options vectors).
        if doc.get("generated_by") != "core/examples/gen_vectors.rs":
            continue
        for case in doc["cases"]:
            yield f"{path.stem}/{case['name']}", case


CASES = list(cases())


def validator(case: Dict[str, Any], cache: bool) -> JwtValidator:
    o = case["options"]
    return JwtValidator(
        issuer=o["issuer"],
        jwks=case["jwks"],
        audience=o["audiences"],
        algorithms=o["algorithms"],
        leeway=o["leeway"],
        max_token_size=o["max_token_size"],
        typ=o["typ"],
        scope_claims=o["scope_claims"],
        required_scopes=o["required_scopes"],
        scope_match=o["scope_match"],
        token_cache_size=100 if cache else 0,
        dangerous_fixed_time=o["now"],
    )


def outcome(v: JwtValidator, token: str) -> Tuple[str, Any]:
    try:
        result = v.try_verify(token)
    except ScalekitException as e:
        return "error", e
    assert result is not None, "a static key set needed a fetch"
    return "valid", result


def test_the_vector_set_is_complete() -> None:
    assert len(CASES) >= 90, f"only {len(CASES)} cases found in {VECTORS}"


@pytest.mark.parametrize("name,case", CASES, ids=[name for name, _ in CASES])
def test_vector(name: str, case: Dict[str, Any]) -> None:
    expected = case["expected"]
    runs: List[Tuple[str, Any]] = []
    for cache in (False, True):
        v = validator(case, cache)
        runs.extend(outcome(v, case["token"]) for _ in range(2 if cache else 1))
    for kind, value in runs:
        if expected["valid"]:
            assert kind == "valid", f"expected valid, got {getattr(value, 'code', value)}: {value}"
            assert isinstance(value, VerifiedToken)
            for claim, want in expected["claims"].items():
                assert value.claims.get(claim) == want, claim
            assert value.scopes == expected["scopes"]
        else:
            assert kind == "error", f"expected {expected['error']}, got valid claims {value.claims}"
            assert value.code == expected["error"], str(value)
            status = 403 if isinstance(value, ScalekitInsufficientScopeException) else 401
            assert status == expected["status"]
            if "missing" in expected:
                assert isinstance(value, ScalekitInsufficientScopeException)
                assert value.missing_scopes == expected["missing"]
