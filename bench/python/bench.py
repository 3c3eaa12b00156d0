"""`make bench-python`: JWT validation in Python, side by side in one run, on the same RS256
access token and the same JWKS served by a real `authgate serve` on loopback:

- authgate `JwtValidator` with the verified-token cache off, and on (a cache hit);
- authgate `ScalekitClient.validate_access_token_and_get_claims` (the SDK-parity path);
- PyJWT + `PyJWKClient` as documented (key looked up per call), and PyJWT with the key object
  resolved once (its best case);
- the official `scalekit-sdk-python` `validate_access_token_and_get_claims`;

cold (first validation, JWKS fetch included) and warm; then Flask request throughput (Flask's
test client, no network) without auth, with authgate's `require_scope`, and with the seed's
hand-written decorators over PyJWT and over the official SDK; and API-key validation (remote over
loopback HTTP, embedded on SQLite). Prints every contender's median and ratio; writes them all
to bench/results/python.json. BENCH_QUICK=1 is a short smoke run (same rows, few samples: the
figures are not meant to be quoted).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import platform
import queue
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import flask
import jwt
from jwt import PyJWKClient

import authgate
from authgate.flask import require_scope

REPO = Path(__file__).resolve().parents[2]
AUDIENCE = "orders-api"
SCOPE = "orders:read"
QUICK = os.environ.get("BENCH_QUICK") == "1"
REPEATS = 2 if QUICK else 7
TARGET_SECONDS = 0.02 if QUICK else 0.25


def start_server(directory: Path) -> Tuple[str, str, str, "subprocess.Popen[str]"]:
    binary = os.environ.get("AUTHGATE_BIN") or str(REPO / "target/x86_64-unknown-linux-gnu/release/authgate")
    client_id, secret = f"skc_{secrets.token_hex(8)}", secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    env.update(
        AUTHGATE_DATABASE_URL=f"sqlite://{directory / 'bench.db'}",
        AUTHGATE_CLIENT_ID=client_id,
        AUTHGATE_CLIENT_SECRET=secret,
        AUTHGATE_LOG="warn",
    )
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    while True:
        line = lines.get(timeout=60)
        if line.startswith("authgate listening on "):
            return line.split()[3], client_id, secret, proc


def per_op(fn: Callable[[], Any]) -> float:
    """Median seconds per call over REPEATS timed loops of ~TARGET_SECONDS each."""
    for _ in range(20):
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.05:
        fn()
        n += 1
    loops = max(10, int(n * TARGET_SECONDS / 0.05))
    samples = []
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def once(make: Callable[[], Callable[[], Any]], repeats: int = 5) -> float:
    """Median seconds of the first call of a fresh contender (`make` builds it, untimed)."""
    samples = []
    for _ in range(repeats):
        fn = make()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def fmt(seconds: float) -> str:
    return f"{seconds * 1e6:10.1f} µs"


def table(title: str, rows: List[Tuple[str, float]], baseline: str, rate: str = "ops/s") -> List[Dict[str, Any]]:
    base = dict(rows)[baseline]
    print(f"\n{title}")
    print(f"  {'contender':58} {'median':>13} {rate:>12} {'vs ' + baseline.split(' (')[0]:>16}")
    out = []
    for name, seconds in rows:
        ratio = base / seconds
        print(f"  {name:58} {fmt(seconds)} {1 / seconds:12,.0f} {ratio:15.2f}×")
        out.append({"name": name, "seconds": seconds, "per_second": 1 / seconds, "ratio": ratio})
    return out


def main() -> None:
    from scalekit import ScalekitClient as OfficialClient
    from scalekit.common.scalekit import TokenValidationOptions as OfficialOptions

    with tempfile.TemporaryDirectory() as tmp:
        url, env_id, env_secret, proc = start_server(Path(tmp))
        try:
            results = run(url, env_id, env_secret, Path(tmp), OfficialClient, OfficialOptions)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    out = REPO / "bench" / "results" / "python.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out.relative_to(REPO)}")


def run(url: str, env_id: str, env_secret: str, tmp: Path, OfficialClient: Any, OfficialOptions: Any) -> Dict[str, Any]:
    admin = authgate.ScalekitClient(url, env_id, env_secret)
    org = admin.organization.create_organization(display_name="Bench").organization.id
    m2m = admin.m2m_client.create_organization_client(
        org, authgate.OrganizationClient(name="bench", scopes=[SCOPE, "orders:write"], audience=[AUDIENCE])
    )
    token = admin.generate_client_token(m2m.client.client_id, m2m.plain_secret)
    jwks_url = f"{url}/keys"
    header = jwt.get_unverified_header(token)
    print(f"authgate {authgate.__version__} · PyJWT {jwt.__version__} · Python {platform.python_version()} · {platform.machine()}")
    print(f"token: {header['alg']}, kid {header['kid']}, {len(token)} bytes; JWKS {jwks_url}")

    # --- contenders, keys cached ------------------------------------------------------------
    ag_off = authgate.JwtValidator(issuer=url, jwks_url=jwks_url, audience=AUDIENCE, token_cache_size=0, jwks_cache_ttl=301)
    ag_on = authgate.JwtValidator(issuer=url, jwks_url=jwks_url, audience=AUDIENCE, jwks_cache_ttl=302)
    ag_options = authgate.TokenValidationOptions(audience=[AUDIENCE])
    jwk_client = PyJWKClient(jwks_url)
    pyjwt_key = jwk_client.get_signing_key_from_jwt(token).key
    official = OfficialClient(url, env_id, env_secret)
    official_options = OfficialOptions(issuer=url, audience=[AUDIENCE])

    def pyjwt_jwks() -> Any:
        key = jwk_client.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], issuer=url, audience=AUDIENCE)

    def pyjwt_key_once() -> Any:
        return jwt.decode(token, pyjwt_key, algorithms=["RS256"], issuer=url, audience=AUDIENCE)

    contenders: List[Tuple[str, Callable[[], Any]]] = [
        ("PyJWT + PyJWKClient (key lookup per call)", pyjwt_jwks),
        ("PyJWT, key object resolved once", pyjwt_key_once),
        ("scalekit-sdk-python validate_access_token_and_get_claims", lambda: official.validate_access_token_and_get_claims(token, options=official_options)),
        ("authgate JwtValidator.validate (token cache off)", lambda: ag_off.validate(token)),
        ("authgate JwtValidator.validate (token cache hit)", lambda: ag_on.validate(token)),
        ("authgate ScalekitClient.validate_access_token_and_get_claims", lambda: admin.validate_access_token_and_get_claims(token, options=ag_options)),
    ]
    for name, fn in contenders:  # every contender accepts the token
        assert fn()["oid"] == org, name
    warm = [(name, per_op(fn)) for name, fn in contenders]
    warm_rows = table("JWT validation, keys cached (median per call)", warm, contenders[0][0])

    # --- cold: a fresh contender's first validation, JWKS fetch included -----------------------
    ttl = iter(range(400, 10_000))

    def cold_authgate() -> Callable[[], Any]:
        # A distinct cache configuration gets its own (empty) key cache.
        v = authgate.JwtValidator(issuer=url, jwks_url=jwks_url, audience=AUDIENCE, token_cache_size=0, jwks_cache_ttl=next(ttl))
        return lambda: v.validate(token)

    def cold_pyjwt() -> Callable[[], Any]:
        c = PyJWKClient(jwks_url)
        return lambda: jwt.decode(token, c.get_signing_key_from_jwt(token).key, algorithms=["RS256"], issuer=url, audience=AUDIENCE)

    def cold_official() -> Callable[[], Any]:
        c = OfficialClient(url, env_id, env_secret)
        return lambda: c.validate_access_token_and_get_claims(token, options=official_options)

    cold = [
        ("PyJWT + PyJWKClient (cold)", once(cold_pyjwt)),
        ("scalekit-sdk-python (cold)", once(cold_official)),
        ("authgate JwtValidator (cold)", once(cold_authgate)),
    ]
    cold_rows = table("JWT validation, first call of a fresh instance (JWKS fetch included)", cold, cold[0][0], rate="calls/s")

    # --- Flask request throughput ---------------------------------------------------------------
    app = flask.Flask("bench")

    @app.route("/plain")
    def plain() -> Any:
        return {"ok": True}

    @app.route("/authgate")
    @require_scope(SCOPE, client=ag_on)
    def with_authgate() -> Any:
        return {"ok": True}

    @app.route("/authgate-nocache")
    @require_scope(SCOPE, client=ag_off)
    def with_authgate_nocache() -> Any:
        return {"ok": True}

    def seed_decorator(validate: Callable[[str], Dict[str, Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """The seed's `require_scope` sample, over a given validation function."""

        def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(f)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                bearer = flask.request.headers.get("Authorization", "").removeprefix("Bearer ")
                if not bearer:
                    return flask.jsonify({"error": "Missing token"}), 401
                try:
                    claims = validate(bearer)
                except Exception:
                    return flask.jsonify({"error": "Invalid token"}), 401
                if SCOPE not in claims.get("scopes", []):
                    return flask.jsonify({"error": "Insufficient permissions"}), 403
                return f(*args, **kwargs)

            return wrapper

        return decorator

    @app.route("/pyjwt")
    @seed_decorator(lambda t: jwt.decode(t, jwk_client.get_signing_key_from_jwt(t).key, algorithms=["RS256"], issuer=url, audience=AUDIENCE))
    def with_pyjwt() -> Any:
        return {"ok": True}

    @app.route("/official")
    @seed_decorator(lambda t: official.validate_access_token_and_get_claims(t, options=official_options))
    def with_official() -> Any:
        return {"ok": True}

    web = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    routes = [
        ("no auth", "/plain"),
        ("seed decorator over PyJWT + PyJWKClient", "/pyjwt"),
        ("seed decorator over scalekit-sdk-python", "/official"),
        ("authgate.flask require_scope (token cache off)", "/authgate-nocache"),
        ("authgate.flask require_scope (token cache hit)", "/authgate"),
    ]
    for _, path in routes:
        assert web.get(path, headers=auth).status_code == 200, path
    flask_rows = table(
        "Flask request throughput (test client, GET with a bearer token)",
        [(name, per_op(lambda p=path: web.get(p, headers=auth))) for name, path in routes],
        routes[1][0],
        rate="req/s",
    )

    # --- API keys ---------------------------------------------------------------------------------
    embedded = authgate.ScalekitClient.local(f"sqlite://{tmp / 'embedded.db'}")
    eorg = embedded.organization.create_organization(display_name="Bench").organization.id
    remote_key = admin.tokens.create_token(organization_id=org).token
    embedded_key = embedded.tokens.create_token(organization_id=eorg).token
    keys = [
        ("remote: tokens.validate_token over loopback HTTP", per_op(lambda: admin.tokens.validate_token(remote_key))),
        ("embedded: tokens.validate_token on SQLite", per_op(lambda: embedded.tokens.validate_token(embedded_key))),
    ]
    key_rows = table("API-key validation (median per call)", keys, keys[0][0])

    return {
        "quick": QUICK,
        "authgate": authgate.__version__,
        "pyjwt": jwt.__version__,
        "python": platform.python_version(),
        "jwt_warm": warm_rows,
        "jwt_cold": cold_rows,
        "flask": flask_rows,
        "api_keys": key_rows,
    }


if __name__ == "__main__":
    sys.exit(main())
