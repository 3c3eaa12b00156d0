"""The Python samples of `adding-api-auth` (the seed document), run against the real server with
only the imports changed (`scalekit` → `authgate`). Each block below is the sample's code as
published, wrapped in a function; comments mark the one changed line."""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest
from flask import Flask, g, jsonify, request

from authgate import CreateUser

from .conftest import Server


@pytest.fixture
def env(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALEKIT_ENVIRONMENT_URL", server.url)
    monkeypatch.setenv("SCALEKIT_CLIENT_ID", server.client_id)
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", server.client_secret)


def test_seed_api_key_and_client_credentials_samples(env: None) -> None:
    # --- "Python" client setup ---------------------------------------------------------------
    from authgate import ScalekitClient  # was: from scalekit import ScalekitClient

    scalekit_client = ScalekitClient(
        env_url=os.environ["SCALEKIT_ENVIRONMENT_URL"],
        client_id=os.environ["SCALEKIT_CLIENT_ID"],
        client_secret=os.environ["SCALEKIT_CLIENT_SECRET"],
    )
    organization_id = scalekit_client.organization.create_organization(display_name="Seed Corp").organization.id
    user = scalekit_client.users.create_user_and_membership(organization_id, CreateUser(email="usr_12345@seed.test")).user

    # --- organization-scoped key ---------------------------------------------------------------
    response = scalekit_client.tokens.create_token(
        organization_id=organization_id,
        description="CI/CD pipeline token",
    )
    opaque_token = response.token  # show to user once; never stored by Scalekit
    token_id = response.token_id  # format: apit_xxxxx — use for lifecycle ops
    assert token_id.startswith("apit_")

    # --- user-scoped key (the sample's "usr_12345" is a real user here) -------------------------
    response = scalekit_client.tokens.create_token(
        organization_id=organization_id,
        user_id=user.id,
        custom_claims={"team": "engineering", "environment": "production"},
        description="Deployment service token",
    )
    user_token = response.token

    # --- validate --------------------------------------------------------------------------------
    from authgate import ScalekitValidateTokenFailureException  # was: from scalekit import …

    failures: list[Exception] = []

    def validate(opaque_token: str) -> Any:
        try:
            result = scalekit_client.tokens.validate_token(token=opaque_token)
            org_id = result.token_info.organization_id
            user_id = result.token_info.user_id  # empty for org-scoped keys
            claims = result.token_info.custom_claims
            roles = result.token_info.roles  # populated if RBAC is configured
            ext_org = result.token_info.organization_external_id
            return org_id, user_id, claims, roles, ext_org
        except ScalekitValidateTokenFailureException as e:
            failures.append(e)  # the test's addition: which failure the sample turned into a 401
            return 401

    assert validate(opaque_token) == (organization_id, None, {}, [], "")
    assert validate(user_token) == (
        organization_id,
        user.id,
        {"team": "engineering", "environment": "production"},
        [],
        "",
    )

    # --- list with pagination, filter by user ----------------------------------------------------
    # More keys than a page, so that the sample's next-page branch runs.
    fillers = [f"filler {i}" for i in range(10)]
    for description in fillers:
        scalekit_client.tokens.create_token(organization_id=organization_id, description=description)
    seen = []
    response = scalekit_client.tokens.list_tokens(
        organization_id=organization_id,
        page_size=10,
    )
    for token in response.tokens:
        seen.append((token.token_id, token.description))
    assert response.next_page_token, "12 keys, pages of 10: there is a second page"
    if response.next_page_token:
        next_page = scalekit_client.tokens.list_tokens(
            organization_id=organization_id,
            page_size=10,
            page_token=response.next_page_token,
        )
        seen.extend((t.token_id, t.description) for t in next_page.tokens)
    assert [d for _, d in seen] == ["CI/CD pipeline token", "Deployment service token", *fillers]
    assert len(next_page.tokens) == 2 and not next_page.next_page_token
    user_tokens = scalekit_client.tokens.list_tokens(
        organization_id=organization_id,
        user_id=user.id,
    )
    assert [t.description for t in user_tokens.tokens] == ["Deployment service token"]

    # --- invalidate by token string or token_id --------------------------------------------------
    scalekit_client.tokens.invalidate_token(token=opaque_token)
    scalekit_client.tokens.invalidate_token(token=token_id)
    assert validate(opaque_token) == 401
    assert [e.code for e in failures] == ["token_validation_failed"]

    # --- Flask decorator --------------------------------------------------------------------------
    app = Flask(__name__)

    def authenticate_token(f: Any) -> Any:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return jsonify({"error": "Missing authorization token"}), 401
            try:
                result = scalekit_client.tokens.validate_token(token=auth.split(" ", 1)[1])
                g.token_info = result.token_info
            except ScalekitValidateTokenFailureException:
                return jsonify({"error": "Invalid or expired token"}), 401
            return f(*args, **kwargs)

        return wrapper

    @app.route("/api/resources")
    @authenticate_token
    def get_resources() -> Any:
        org_id = g.token_info.organization_id  # always present
        user_id = g.token_info.user_id  # present only for user-scoped keys
        return {"org_id": org_id, "user_id": user_id}

    web = app.test_client()
    assert web.get("/api/resources", headers={"Authorization": f"Bearer {user_token}"}).get_json() == {
        "org_id": organization_id,
        "user_id": user.id,
    }
    assert web.get("/api/resources", headers={"Authorization": f"Bearer {opaque_token}"}).status_code == 401
    assert web.get("/api/resources").status_code == 401

    # --- M2M client -------------------------------------------------------------------------------
    from authgate import OrganizationClient  # was: from scalekit.v1.clients.clients_pb2 import OrganizationClient

    response = scalekit_client.m2m_client.create_organization_client(
        organization_id=organization_id,
        m2m_client=OrganizationClient(
            name="GitHub Actions Deployment Service",
            description="Deploys to production via GitHub Actions",
            scopes=["deploy:applications", "read:deployments"],  # resource:action pattern
            audience=["deployment-api.acmecorp.com"],
            custom_claims=[
                {"key": "github_repository", "value": "acmecorp/inventory-service"},
                {"key": "environment", "value": "production_us"},
            ],
            expiry=3600,  # seconds; default 3600
        ),
    )
    client_id = response.client.client_id
    plain_secret = response.plain_secret  # store securely; not retrievable again

    # --- the API client fetches a token (the sample's curl, as an HTTP POST) ----------------------
    import httpx

    fetched = httpx.post(
        f"{os.environ['SCALEKIT_ENVIRONMENT_URL']}/oauth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": plain_secret},
    ).json()
    assert set(fetched) >= {"access_token", "token_type", "expires_in", "scope"}
    access_token = fetched["access_token"]

    # --- validate the JWT --------------------------------------------------------------------------
    caught: list[Exception] = []  # the test's addition: what the sample's catch-all caught

    def check(token: str) -> Any:
        try:
            claims = scalekit_client.validate_access_token_and_get_claims(token=token)
            # claims["scopes"] → list of granted scopes
            return claims["scopes"]
        except Exception as e:
            caught.append(e)
            return 401  # invalid or expired

    assert check(access_token) == ["deploy:applications", "read:deployments"]
    assert check(access_token[:-4] + "AAAA") == 401
    # The 401 is a signature failure, not any error (an AttributeError would also be caught).
    assert [(type(e), getattr(e, "code", None)) for e in caught] == [
        (ScalekitValidateTokenFailureException, "invalid_signature")
    ]
    caught.clear()

    # --- Flask require_scope -----------------------------------------------------------------------
    app = Flask(__name__)
    web = app.test_client()

    def require_scope(scope: str) -> Any:
        def decorator(f: Any) -> Any:
            @functools.wraps(f)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                token = request.headers.get("Authorization", "").removeprefix("Bearer ")
                if not token:
                    return jsonify({"error": "Missing token"}), 401
                try:
                    claims = scalekit_client.validate_access_token_and_get_claims(token=token)
                except Exception as e:
                    caught.append(e)
                    return jsonify({"error": "Invalid token"}), 401
                if scope not in claims.get("scopes", []):
                    return jsonify({"error": "Insufficient permissions"}), 403
                return f(*args, **kwargs)

            return wrapper

        return decorator

    @app.route("/deploy", methods=["POST"])
    @require_scope("deploy:applications")
    def deploy() -> Any:
        return {"deployed": True}

    @app.route("/admin")
    @require_scope("admin:all")
    def admin() -> Any:
        return {"admin": True}

    auth = {"Authorization": f"Bearer {access_token}"}
    assert web.post("/deploy", headers=auth).get_json() == {"deployed": True}
    assert web.get("/admin", headers=auth).status_code == 403
    assert web.post("/deploy", headers={"Authorization": f"Bearer {access_token}x"}).status_code == 401
    assert web.post("/deploy").status_code == 401
    assert [type(e) for e in caught] == [ScalekitValidateTokenFailureException], caught
