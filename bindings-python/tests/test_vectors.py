"""The shared JWT vectors (`tests/vectors/`, see their README) through `JwtValidator`: every
case must give the outcome, error code, HTTP status and scopes the Rust suite gets — through
every entry point (`try_verify`, `try_validate`, the blocking `verify` and `validate`), with the
verified-token cache off, and on (twice, so the second run is a cache hit). The files and their
case counts are exactly those of `index.json` (written by `core/examples/gen_vectors.rs`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

from authgate import JwtValidator, ScalekitException, ScalekitInsufficientScopeException, VerifiedToken

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"


INDEX: Dict[str, int] = json.loads((VECTORS / "index.json").read_text())["files"]


def cases() -> Iterator[Tuple[str, Dict[str, Any]]]:
    for file in INDEX:
        for case in json.loads((VECTORS / file).read_text())["cases"]:
            yield f"{Path(file).stem}/{case['name']}", case


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


ENTRY_POINTS: Dict[str, Callable[[JwtValidator, str], Any]] = {
    "try_verify": lambda v, token: v.try_verify(token),
    "try_validate": lambda v, token: v.try_validate(token),
    "verify": lambda v, token: v.verify(token),
    "validate": lambda v, token: v.validate(token),
}


def outcome(v: JwtValidator, entry: str, token: str) -> Tuple[str, Any]:
    try:
        result = ENTRY_POINTS[entry](v, token)
    except ScalekitException as e:
        return "error", e
    assert result is not None, f"{entry}: a static key set needed a fetch"
    return "valid", result


def test_exactly_the_indexed_files_and_counts() -> None:
    assert INDEX, "index.json lists no files"
    for file, count in INDEX.items():
        assert len(json.loads((VECTORS / file).read_text())["cases"]) == count, file
    assert len(CASES) == sum(INDEX.values())


@pytest.mark.parametrize("name,case", CASES, ids=[name for name, _ in CASES])
def test_vector(name: str, case: Dict[str, Any]) -> None:
    expected = case["expected"]
    runs: List[Tuple[str, str, Any]] = []
    for entry in ENTRY_POINTS:
        for cache in (False, True):
            v = validator(case, cache)
            runs.extend((entry, *outcome(v, entry, case["token"])) for _ in range(2 if cache else 1))
    for entry, kind, value in runs:
        if expected["valid"]:
            assert kind == "valid", f"{entry}: expected valid, got {getattr(value, 'code', value)}: {value}"
            if entry.endswith("verify"):
                assert isinstance(value, VerifiedToken)
                claims, scopes = value.claims, value.scopes
            else:
                assert isinstance(value, dict), entry
                claims, scopes = value, None
            for claim, want in expected["claims"].items():
                assert claims.get(claim) == want, f"{entry}: {claim}"
            if scopes is not None:
                assert scopes == expected["scopes"], entry
        else:
            assert kind == "error", f"{entry}: expected {expected['error']}, got valid claims {value}"
            assert value.code == expected["error"], f"{entry}: {value}"
            status = 403 if isinstance(value, ScalekitInsufficientScopeException) else 401
            assert status == expected["status"], entry
            if "missing" in expected:
                assert isinstance(value, ScalekitInsufficientScopeException), entry
                assert value.missing_scopes == expected["missing"], entry
