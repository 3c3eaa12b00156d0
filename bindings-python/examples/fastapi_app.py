"""A typed FastAPI service protected by authgate (checked with `mypy --strict`).

Run: SCALEKIT_ENVIRONMENT_URL=… SCALEKIT_CLIENT_ID=… SCALEKIT_CLIENT_SECRET=… uvicorn fastapi_app:app
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

from fastapi import Depends, FastAPI, Security

from authgate import (
    ClientCredentials,
    JwtValidator,
    OrganizationClient,
    ScalekitClient,
    ScalekitValidateTokenFailureException,
    TokenInfo,
    TokenValidationOptions,
)
from authgate.fastapi import ApiKey, RequireScope, init_app

client = ScalekitClient(
    os.environ.get("SCALEKIT_ENVIRONMENT_URL", "http://127.0.0.1:8080"),
    os.environ.get("SCALEKIT_CLIENT_ID", "skc_example"),
    os.environ.get("SCALEKIT_CLIENT_SECRET", "example-secret"),
)
# Tokens of another issuer (Auth0, Keycloak, …) validate the same way.
partner = JwtValidator(issuer="https://partner.example.com/", audience="https://api.example.com")

app = FastAPI()
init_app(app, client)


@app.get("/api/resources")
async def resources(info: TokenInfo = Depends(ApiKey(client))) -> Dict[str, Any]:
    return {"organization_id": info.organization_id, "user_id": info.user_id}


@app.post("/deployments")
async def deploy(claims: Dict[str, Any] = Security(RequireScope(client, "deploy:applications"))) -> Dict[str, str]:
    return {"deployed_by": str(claims["sub"])}


@app.get("/deployments")
async def deployments(claims: Dict[str, Any] = Security(RequireScope(), scopes=["read:deployments"])) -> List[str]:
    return []


@app.get("/partner")
def partner_data(claims: Dict[str, Any] = Security(RequireScope(partner, "partner:read"))) -> Dict[str, Any]:
    return {"partner": claims.get("sub")}


def onboard(organization_id: str) -> Dict[str, str]:
    """Registers an M2M client and a 30-day API key for a new customer."""
    registered = client.m2m_client.create_organization_client(
        organization_id=organization_id,
        m2m_client=OrganizationClient(name="CI", scopes=["deploy:applications"], expiry=3600),
    )
    key = client.tokens.create_token(
        organization_id=organization_id,
        expiry=datetime.now(timezone.utc) + timedelta(days=30),
        custom_claims={"plan": "pro"},
    )
    return {"client_id": registered.client.client_id, "client_secret": registered.plain_secret, "api_key": key.token}


def call_api(client_id: str, client_secret: str) -> bool:
    """The API client's side: fetch (and cache) an access token, check it like the server would."""
    creds = ClientCredentials(f"{client.env_url}/oauth/token", client_id, client_secret, scopes=["deploy:applications"])
    token = creds.get_token()
    try:
        claims = client.validate_access_token_and_get_claims(token, options=TokenValidationOptions(required_scopes=["deploy:applications"]))
    except ScalekitValidateTokenFailureException:
        return False
    return bool(claims["scopes"])
