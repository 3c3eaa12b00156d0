"""`authgate.flask` end to end: real keys and tokens from the real server (or the embedded
authority), through Flask's test client."""

from __future__ import annotations

from typing import Any, Tuple

import pytest
from flask import Flask, g

from authgate import CreateUser, JwtValidator, OrganizationClient, ScalekitClient
from authgate.flask import CONFIG_KEY, authenticate_token, init_app, require_organization_token, require_scope

from .conftest import DAY, M2M, fresh_day_window, unique, wait_for_refusals


def make_app(client: Any, bind: str = "init_app") -> Flask:
    app = Flask(__name__)
    if bind == "init_app":
        init_app(app, client)
    elif bind == "config":
        app.config[CONFIG_KEY] = client

    @app.route("/api/resources")
    @authenticate_token
    def get_resources() -> Any:
        return {"org_id": g.token_info.organization_id, "user_id": g.token_info.user_id, "claims": g.token_info.custom_claims}

    @app.route("/deploy", methods=["POST"])
    @require_scope("deploy:applications")
    def deploy() -> Any:
        return {"client": g.token_claims["sub"], "org": g.token_claims["oid"]}

    @app.route("/admin")
    @require_scope("admin", "deploy:applications")
    def admin() -> Any:
        return {"ok": True}

    @app.route("/either")
    @require_scope("admin", "read:deployments", any=True)
    def either() -> Any:
        return {"ok": True}

    @app.route("/any-token")
    @require_scope("read:deployments")
    def any_token() -> Any:
        return {"scopes": g.token_claims["scopes"]}

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def check_denied(response: Any, status: int, error: str, challenge: Tuple[str, ...]) -> None:
    assert response.status_code == status
    assert response.is_json and response.get_json() == {"error": error}
    header = response.headers.get("WWW-Authenticate", "")
    for part in challenge:
        assert part in header, header


def test_api_key_flow(client: ScalekitClient, org_id: str) -> None:
    web = make_app(client).test_client()
    user = client.users.create_user_and_membership(org_id, CreateUser(email=f"{unique('u')}@acme.test")).user
    org_key = client.tokens.create_token(organization_id=org_id, description="CI/CD pipeline token")
    user_key = client.tokens.create_token(organization_id=org_id, user_id=user.id, custom_claims={"team": "engineering"})

    ok = web.get("/api/resources", headers=bearer(org_key.token))
    assert ok.status_code == 200 and ok.get_json() == {"org_id": org_id, "user_id": None, "claims": {}}
    ok = web.get("/api/resources", headers={"Authorization": f"bearer  {user_key.token} "})
    assert ok.get_json() == {"org_id": org_id, "user_id": user.id, "claims": {"team": "engineering"}}

    check_denied(web.get("/api/resources"), 401, "Missing authorization token", ('Bearer realm="api"',))
    check_denied(web.get("/api/resources", headers={"Authorization": "Basic abc"}), 401, "Missing authorization token", ())
    invalid = ('error="invalid_token"',)
    check_denied(web.get("/api/resources", headers=bearer("bogus")), 401, "Invalid or expired token", invalid)
    check_denied(web.get("/api/resources", headers=bearer(org_key.token_id)), 401, "Invalid or expired token", invalid)

    client.tokens.invalidate_token(token=org_key.token_id)
    check_denied(web.get("/api/resources", headers=bearer(org_key.token)), 401, "Invalid or expired token", invalid)
    assert web.get("/api/resources", headers=bearer(user_key.token)).status_code == 200


def test_jwt_scope_flow(client: ScalekitClient, m2m: M2M) -> None:
    web = make_app(client).test_client()
    token = client.generate_client_token(m2m.client_id, m2m.secret)

    ok = web.post("/deploy", headers=bearer(token))
    assert ok.status_code == 200 and ok.get_json() == {"client": m2m.client_id, "org": m2m.organization_id}
    assert web.get("/either", headers=bearer(token)).status_code == 200
    assert web.get("/any-token", headers=bearer(token)).get_json() == {"scopes": ["deploy:applications", "read:deployments"]}

    check_denied(
        web.get("/admin", headers=bearer(token)),
        403,
        "Insufficient permissions",
        ('error="insufficient_scope"', 'scope="admin"'),
    )
    narrow = client.generate_client_token(m2m.client_id, m2m.secret, scopes=["read:deployments"])
    check_denied(web.post("/deploy", headers=bearer(narrow)), 403, "Insufficient permissions", ('scope="deploy:applications"',))

    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-3]}AAA.{signature}"
    # Verify first, then authorise: a forged token is a 401, never a 403.
    check_denied(web.get("/admin", headers=bearer(tampered)), 401, "Invalid or expired token", ('error="invalid_token"',))
    check_denied(web.post("/deploy"), 401, "Missing authorization token", ())
    # An API key is not an access token.
    key = client.tokens.create_token(organization_id=m2m.organization_id).token
    check_denied(web.post("/deploy", headers=bearer(key)), 401, "Invalid or expired token", ())


def test_config_key_and_explicit_client(remote_client: ScalekitClient, server: Any) -> None:
    org = remote_client.organization.create_organization(display_name="Explicit").organization.id
    key = remote_client.tokens.create_token(organization_id=org).token
    assert make_app(remote_client, bind="config").test_client().get("/api/resources", headers=bearer(key)).status_code == 200

    app = Flask(__name__)

    @app.route("/key")
    @authenticate_token(client=remote_client)
    def by_key() -> Any:
        return {"org": g.token_info.organization_id}

    validator = JwtValidator(issuer=server.url, jwks_url=f"{server.url}/keys")

    @app.route("/jwt")
    @require_scope("openid", client=validator)  # the environment token's scope
    def by_jwt() -> Any:
        return {"sub": g.token_claims["sub"]}

    web = app.test_client()
    assert web.get("/key", headers=bearer(key)).get_json() == {"org": org}
    token = remote_client.get_client_access_token()
    assert web.get("/jwt", headers=bearer(token)).get_json()["sub"].startswith("skc_")


def test_organization_token_route_refuses_the_environment_token(remote_client: ScalekitClient, server: Any) -> None:
    """``require_organization_token``: any organization's token, with or without scopes; the
    environment's own admin token (valid, signed by the same keys) is 403 — against the real server."""
    org = remote_client.organization.create_organization(display_name="Org-token route").organization.id
    created = remote_client.m2m_client.create_organization_client(
        organization_id=org, m2m_client=OrganizationClient(name="no scopes")
    )
    app = Flask(__name__)
    validator = JwtValidator(issuer=server.url, jwks_url=f"{server.url}/keys")

    @app.route("/status")
    @require_organization_token(client=validator)
    def status() -> Any:
        return {"org": g.token_claims["oid"]}

    web = app.test_client()
    token = remote_client.generate_client_token(created.client.client_id, created.plain_secret)
    assert web.get("/status", headers=bearer(token)).get_json() == {"org": org}
    check_denied(
        web.get("/status", headers=bearer(remote_client.get_client_access_token())),
        403,
        "Insufficient permissions",
        ('error="insufficient_scope"', 'error_description="the token may not use this resource"'),
    )
    check_denied(web.get("/status"), 401, "Missing authorization token", ())


def test_keys_unavailable_is_503(remote_client: ScalekitClient) -> None:
    app = Flask(__name__)
    down = JwtValidator(issuer="http://127.0.0.1:9", jwks_url="http://127.0.0.1:9/keys", jwks_fetch_timeout=2)

    @app.route("/jwt")
    @require_scope("x", client=down)
    def view() -> Any:
        return {}

    response = app.test_client().get("/jwt", headers=bearer(remote_client.get_client_access_token()))
    assert response.status_code == 503 and response.get_json() == {"error": "Authentication service unavailable"}
    assert response.headers["Retry-After"] == "5" and "WWW-Authenticate" not in response.headers


def test_unbound_app_is_a_clear_error() -> None:
    app = Flask(__name__)

    @app.route("/x")
    @authenticate_token
    def view() -> Any:
        return {}

    app.testing = True
    with pytest.raises(RuntimeError, match="init_app"):
        app.test_client().get("/x", headers=bearer("k"))


def test_decorator_misuse() -> None:
    with pytest.raises(TypeError):
        require_scope("")
    # No scope is refused when the route is defined, bare or called.
    with pytest.raises(TypeError, match="at least one scope"):
        require_scope()
    with pytest.raises(TypeError, match="at least one scope"):

        @require_scope  # type: ignore[arg-type]
        def view() -> Any:
            return {}
    with pytest.raises(TypeError):
        init_app(Flask(__name__), object())  # type: ignore[arg-type]


def test_networks_rate_limits_and_trusted_proxies(client: ScalekitClient, org_id: str) -> None:
    """Keys with ``allowed_cidrs`` see the request's address; ``X-Forwarded-For`` counts only from
    a trusted proxy; a key over its rate limit is answered 429 with ``Retry-After``."""
    app = Flask(__name__)
    init_app(app, client, trusted_proxies=["10.0.0.0/8"])

    @app.route("/key")
    @authenticate_token
    def key() -> Any:
        return {"org": g.token_info.organization_id}

    @app.route("/direct")
    @authenticate_token(trusted_proxies=[])
    def direct() -> Any:
        return {"ok": True}

    web = app.test_client()
    office = client.tokens.create_token(organization_id=org_id, allowed_cidrs=["198.51.100.0/24"]).token
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # From the office, through the trusted proxy: accepted.
    r = web.get("/key", headers={**bearer(office), "X-Forwarded-For": "198.51.100.7"}, environ_base=via_proxy)
    assert r.status_code == 200 and r.get_json() == {"org": org_id}
    # The same header from an untrusted peer is ignored: the peer's address decides.
    r = web.get("/key", headers={**bearer(office), "X-Forwarded-For": "198.51.100.7"}, environ_base={"REMOTE_ADDR": "203.0.113.5"})
    check_denied(r, 401, "Invalid or expired token", ('error="invalid_token"',))
    # A route with no trusted proxies believes no header, even from 10.0.0.2.
    r = web.get("/direct", headers={**bearer(office), "X-Forwarded-For": "198.51.100.7"}, environ_base=via_proxy)
    assert r.status_code == 401
    # The client's own entries before the proxy's are not believed.
    r = web.get("/key", headers={**bearer(office), "X-Forwarded-For": "198.51.100.7, 203.0.113.5"}, environ_base=via_proxy)
    assert r.status_code == 401
    r = web.get("/key", headers=bearer(office), environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert r.status_code == 200
    # The refusals are audited with the address the adapter computed.
    refused = sorted(e.source_address or "-" for e in wait_for_refusals(client, org_id, 3))
    assert refused == ["10.0.0.2", "203.0.113.5", "203.0.113.5"]

    fresh_day_window()
    limited = client.tokens.create_token(organization_id=org_id, rate_limit={"limit": 2, "window_seconds": DAY}).token
    assert [web.get("/key", headers=bearer(limited)).status_code for _ in range(2)] == [200, 200]
    r = web.get("/key", headers=bearer(limited))
    assert r.status_code == 429 and r.get_json() == {"error": "Rate limit exceeded"}
    assert 1 <= int(r.headers["Retry-After"]) <= 86_400 and "WWW-Authenticate" not in r.headers


def test_trusted_proxies_are_checked_when_configured(remote_client: ScalekitClient) -> None:
    from authgate import ScalekitBadRequestException
    from authgate.flask import TRUSTED_PROXIES_KEY

    with pytest.raises(ScalekitBadRequestException) as caught:
        init_app(Flask(__name__), remote_client, trusted_proxies=["10.0.0.1/8"])
    assert caught.value.code == "invalid_argument" and "10.0.0.0/8" in str(caught.value)
    app = Flask(__name__)
    app.config[TRUSTED_PROXIES_KEY] = ["not-a-network"]
    with pytest.raises(ScalekitBadRequestException):
        init_app(app, remote_client)
    with pytest.raises(TypeError):
        init_app(Flask(__name__), remote_client, trusted_proxies="10.0.0.0/8")
    with pytest.raises(ScalekitBadRequestException):
        authenticate_token(client=remote_client, trusted_proxies=["::/129"])
