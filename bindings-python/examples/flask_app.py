"""A typed Flask API protected by authgate (checked with `mypy --strict`).

Run: SCALEKIT_ENVIRONMENT_URL=… SCALEKIT_CLIENT_ID=… SCALEKIT_CLIENT_SECRET=… flask --app flask_app run
"""

from __future__ import annotations

import os
from typing import Any, Dict

from flask import Flask, g

from authgate import ScalekitClient, TokenInfo
from authgate.flask import authenticate_token, init_app, require_scope

client = ScalekitClient(
    env_url=os.environ.get("SCALEKIT_ENVIRONMENT_URL", "http://127.0.0.1:8080"),
    client_id=os.environ.get("SCALEKIT_CLIENT_ID", "skc_example"),
    client_secret=os.environ.get("SCALEKIT_CLIENT_SECRET", "example-secret"),
)
app = Flask(__name__)
init_app(app, client)


@app.route("/api/resources")
@authenticate_token
def get_resources() -> Dict[str, Any]:
    info: TokenInfo = g.token_info
    scope = {"organization_id": info.organization_id}
    if info.user_id is not None:  # user-scoped key: only that user's resources
        scope["user_id"] = info.user_id
    return {"filter": scope, "claims": info.custom_claims, "roles": info.roles}


@app.route("/deployments", methods=["POST"])
@require_scope("deploy:applications")
def deploy() -> Dict[str, Any]:
    claims: Dict[str, Any] = g.token_claims
    return {"deployed_by": claims["sub"], "organization": claims.get("oid")}


@app.route("/deployments")
@require_scope("read:deployments", "deploy:applications", any=True)
def list_deployments() -> Dict[str, Any]:
    return {"deployments": []}


@app.route("/keys", methods=["POST"])
@authenticate_token(client=client)
def create_key() -> Dict[str, Any]:
    info: TokenInfo = g.token_info
    created = client.tokens.create_token(organization_id=info.organization_id, description="created via the API")
    return {"token": created.token, "token_id": created.token_id}


if __name__ == "__main__":
    # Fail fast on wrong credentials or an unreachable environment, before serving anything.
    client.check()
    app.run()
