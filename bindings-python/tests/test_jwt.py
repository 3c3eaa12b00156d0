"""JWT access tokens: the client's methods (both modes), `JwtValidator` against the real
server's JWKS and discovery document, and the `ClientCredentials` fetcher."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from authgate import (
    ClientCredentials,
    JwtValidator,
    ScalekitBadRequestException,
    ScalekitClient,
    ScalekitInsufficientScopeException,
    ScalekitKeysUnavailableException,
    ScalekitServiceUnavailableException,
    ScalekitUnauthorizedException,
    ScalekitValidateTokenFailureException,
    TokenValidationOptions,
    VerifiedToken,
)

from .conftest import M2M, Server, authgate_binary, start_server


def tamper(token: str) -> str:
    """The same token with `scopes` widened in the payload (signature left as is)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scopes"] = [*claims.get("scopes", []), "admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def flip_signature(token: str) -> str:
    head, _, signature = token.rpartition(".")
    i = len(signature) // 2
    return f"{head}.{signature[:i]}{'A' if signature[i] != 'A' else 'B'}{signature[i + 1:]}"


def test_client_credentials_flow(client: ScalekitClient, m2m: M2M) -> None:
    token = client.generate_client_token(m2m.client_id, m2m.secret)
    claims = client.validate_access_token_and_get_claims(token=token)
    assert claims["iss"] == client.env_url
    assert claims["sub"] == claims["client_id"] == m2m.client_id and claims["oid"] == m2m.organization_id
    assert claims["scopes"] == ["deploy:applications", "read:deployments"]
    assert claims["aud"] == ["deployment-api.acmecorp.com"]
    assert claims["custom_claims"] == {"environment": "production_us"}
    assert client.validate_token(token) == claims  # the official name of the JWT check
    assert client.validate_access_token(token) is True
    assert client.verify_scopes(token, ["deploy:applications"]) is True

    narrow = client.generate_client_token(m2m.client_id, m2m.secret, scopes=["read:deployments"])
    assert client.validate_access_token_and_get_claims(narrow)["scopes"] == ["read:deployments"]
    with pytest.raises(ScalekitBadRequestException) as caught:
        client.generate_client_token(m2m.client_id, m2m.secret, scopes=["admin"])
    assert caught.value.code == "invalid_scope"
    with pytest.raises(ScalekitUnauthorizedException) as wrong:
        client.generate_client_token(m2m.client_id, m2m.secret + "x")
    assert wrong.value.code == "invalid_client" and m2m.secret not in str(wrong.value)


def test_options_audience_issuer_and_scopes(client: ScalekitClient, m2m: M2M) -> None:
    token = client.generate_client_token(m2m.client_id, m2m.secret)
    # `audience=` is honoured without `options` (the official SDK silently ignores it).
    assert client.validate_access_token(token, audience="deployment-api.acmecorp.com")
    with pytest.raises(ScalekitValidateTokenFailureException) as aud:
        client.validate_access_token_and_get_claims(token, audience="another-api")
    assert aud.value.code == "invalid_audience"
    assert not client.validate_access_token(token, options=TokenValidationOptions(audience=["x", "y"]))
    ok = TokenValidationOptions(audience=["x", "deployment-api.acmecorp.com"], required_scopes=["deploy:applications"])
    assert client.validate_access_token_and_get_claims(token, options=ok)["oid"] == m2m.organization_id

    with pytest.raises(ScalekitValidateTokenFailureException) as iss:
        client.validate_access_token_and_get_claims(token, options=TokenValidationOptions(issuer="https://evil.test"))
    assert iss.value.code == "invalid_issuer"

    with pytest.raises(ScalekitInsufficientScopeException) as scope:
        client.validate_access_token_and_get_claims(token, options=TokenValidationOptions(required_scopes=["admin"]))
    assert isinstance(scope.value, ScalekitValidateTokenFailureException)  # as the official SDK raises
    assert scope.value.code == "insufficient_scope" and scope.value.missing_scopes == ["admin"]
    assert str(scope.value) == "token missing required scopes: admin"
    with pytest.raises(ScalekitInsufficientScopeException):
        client.verify_scopes(token, ["deploy:applications", "admin"])
    assert not client.validate_access_token(token, options=TokenValidationOptions(required_scopes=["admin"]))


def test_rejections(client: ScalekitClient, m2m: M2M) -> None:
    token = client.generate_client_token(m2m.client_id, m2m.secret)
    for bad, code in [
        (tamper(token), "invalid_signature"),
        ("", "token_malformed"),
        ("not.a.jwt", "token_malformed"),
        (flip_signature(token), "invalid_signature"),
        (token + "x", "token_malformed"),
    ]:
        with pytest.raises(ScalekitValidateTokenFailureException) as caught:
            client.validate_access_token_and_get_claims(bad)
        assert caught.value.code == code, bad
        assert not client.validate_access_token(bad)
    with pytest.raises(ScalekitValidateTokenFailureException):
        client.verify_scopes(tamper(token), ["admin"])


def test_jwt_validator_is_shared(client: ScalekitClient) -> None:
    assert client.jwt_validator() is client.jwt_validator()
    assert client.jwt_validator().issuer == client.env_url
    assert client.jwt_validator(audience="a") is not client.jwt_validator()


def test_client_access_token(remote_client: ScalekitClient, embedded_client: ScalekitClient) -> None:
    token = remote_client.get_client_access_token()
    claims = JwtValidator(issuer=remote_client.env_url, jwks_url=f"{remote_client.env_url}/keys").validate(token)
    assert claims["client_id"].startswith("skc_")
    with pytest.raises(ScalekitBadRequestException):
        embedded_client.get_client_access_token()


def test_standalone_validator_over_the_servers_jwks(server: Server, remote_client: ScalekitClient) -> None:
    org = remote_client.organization.create_organization(display_name="JWKS").organization.id
    created = remote_client.m2m_client.create_organization_client(
        org, {"name": "svc", "scopes": ["orders:read", "orders:write"], "audience": ["orders-api"]}
    )
    token = remote_client.generate_client_token(created.client.client_id, created.plain_secret)

    # Validators alike share the process's key cache (the client's has the keys already)…
    shared = JwtValidator(issuer=server.url, jwks_url=f"{server.url}/keys")
    assert shared.try_validate(token) is not None
    # …another cache configuration starts empty: `try_validate` never blocks, it says "fetch first".
    validator = JwtValidator(issuer=server.url, jwks_url=f"{server.url}/keys", audience="orders-api", jwks_cache_ttl=120)
    assert validator.try_validate(token) is None
    claims = validator.validate(token, ["orders:read"])
    assert claims["oid"] == org
    assert validator.try_validate(token, ["orders:write", "admin"], any=True) == claims
    verified = validator.verify(token)
    assert isinstance(verified, VerifiedToken)
    assert verified.scopes == ["orders:read", "orders:write"] and verified.organization_id == org
    assert verified.subject == created.client.client_id and verified.audiences == ["orders-api"]
    assert verified["oid"] == org and "oid" in verified and verified.get("nope", 7) == 7
    assert verified.has_scope("orders:read") and not verified.has_scope("admin")
    with pytest.raises(ScalekitInsufficientScopeException) as caught:
        validator.validate(token, ["admin", "orders:read"])
    assert caught.value.missing_scopes == ["admin"]
    status = validator.key_status()
    assert status["key_count"] >= 1 and status["fresh"] and status["last_error"] is None
    validator.clear_token_cache()
    assert validator.validate(token)["oid"] == org

    by_discovery = JwtValidator(issuer=server.url)
    assert by_discovery.validate(token)["sub"] == created.client.client_id
    with pytest.raises(ScalekitValidateTokenFailureException):
        JwtValidator(issuer="http://127.0.0.1:9/other", jwks_url=f"{server.url}/keys").validate(token)


def test_keys_unavailable_is_not_a_validation_failure(remote_client: ScalekitClient) -> None:
    validator = JwtValidator(issuer="http://127.0.0.1:9", jwks_url="http://127.0.0.1:9/keys", jwks_fetch_timeout=2)
    token = remote_client.get_client_access_token()
    with pytest.raises(ScalekitKeysUnavailableException) as caught:
        validator.validate(token)
    assert isinstance(caught.value, ScalekitServiceUnavailableException)
    assert not isinstance(caught.value, ScalekitValidateTokenFailureException)
    assert caught.value.code == "keys_unavailable" and caught.value.http_status == 503
    with pytest.raises(ScalekitKeysUnavailableException):
        validator.refresh()


def test_validator_configuration_errors() -> None:
    with pytest.raises(TypeError):
        JwtValidator()
    with pytest.raises(TypeError):
        JwtValidator(jwks_url="https://a.test/keys", jwks={"keys": []})
    with pytest.raises(ScalekitBadRequestException):
        JwtValidator(jwks_url="http://example.com/keys")  # plain http off loopback
    with pytest.raises(ScalekitBadRequestException):
        JwtValidator(jwks_url="https://a.test/keys", algorithms=["HS256"])
    with pytest.raises(ScalekitBadRequestException):
        JwtValidator(jwks_url="https://a.test/keys", scope_match="some")  # type: ignore[arg-type]


def test_client_credentials_fetcher(server: Server, remote_client: ScalekitClient, m2m_remote: M2M) -> None:
    creds = ClientCredentials(f"{server.url}/oauth/token", m2m_remote.client_id, m2m_remote.secret, scopes=["read:deployments"])
    token = creds.get_access_token()
    assert token.token_type.lower() == "bearer" and token.scopes == ["read:deployments"]
    assert 3500 < token.expires_in <= 3600 and token.access_token not in repr(token)
    assert creds.get_token() == token.access_token  # cached
    assert creds.authorization_header() == f"Bearer {token.access_token}"
    claims = remote_client.validate_access_token_and_get_claims(creds.get_token())
    assert claims["scopes"] == ["read:deployments"]
    creds.invalidate(token.access_token)
    assert creds.get_token() != token.access_token
    assert m2m_remote.secret not in repr(creds)

    wrong = ClientCredentials(f"{server.url}/oauth/token", m2m_remote.client_id, "wrong-secret")
    with pytest.raises(ScalekitUnauthorizedException) as caught:
        wrong.get_token()
    assert caught.value.code == "invalid_client"


@pytest.fixture
def m2m_remote(remote_client: ScalekitClient) -> M2M:
    org = remote_client.organization.create_organization(display_name="Fetcher").organization.id
    created = remote_client.m2m_client.create_organization_client(
        org, {"name": "fetcher", "scopes": ["deploy:applications", "read:deployments"]}
    )
    return M2M(org, created.client.client_id, created.plain_secret)


def kid(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_embedded_nodes_pick_up_a_rotated_key(tmp_path: Path) -> None:
    """Two processes on one store: a key rotated elsewhere at once (here with the CLI's --now, the
    emergency path) is accepted by an embedded client on its first unknown kid; a retired key
    stops validating."""
    db, issuer = f"sqlite://{tmp_path / 'shared.db'}", "https://rotation.example.test"
    node_a = ScalekitClient.local(db, issuer=issuer)
    org = node_a.organization.create_organization(display_name="Rotation").organization.id
    created = node_a.m2m_client.create_organization_client(org, {"name": "svc", "scopes": ["a"]})
    first = node_a.generate_client_token(created.client.client_id, created.plain_secret)
    assert node_a.validate_access_token(first)

    cli = [str(authgate_binary()), "--database", db, "--issuer", issuer, "signing-keys"]
    subprocess.run([*cli, "rotate", "--now"], check=True, capture_output=True, timeout=60)
    node_b = ScalekitClient.local(db, issuer=issuer)
    second = node_b.generate_client_token(created.client.client_id, created.plain_secret)
    assert kid(second) != kid(first)
    # node_a has the old key set cached; an unknown kid makes it refetch once its 100 ms refetch
    # cooldown has passed: wait for that event with a deadline, not for a fixed time.
    deadline = time.monotonic() + 30
    while True:
        try:
            claims = node_a.validate_access_token_and_get_claims(second)
            break
        except ScalekitValidateTokenFailureException as refused:
            assert refused.code == "unknown_kid", refused
            assert time.monotonic() < deadline, "node_a never refetched the key set"
            time.sleep(0.01)
    assert claims["oid"] == org
    assert node_a.validate_access_token(first)  # the previous key stays published

    subprocess.run([*cli, "retire", kid(first)], check=True, capture_output=True, timeout=60)
    fresh = ScalekitClient.local(db, issuer=issuer)
    with pytest.raises(ScalekitValidateTokenFailureException) as caught:
        fresh.validate_access_token_and_get_claims(first)
    assert caught.value.code == "unknown_kid"


def test_embedded_client_opens_a_store_a_server_encrypted(tmp_path: Path) -> None:
    """A store `authgate serve` created (signing keys encrypted with the key file next to it, no
    AUTHGATE_MASTER_KEY anywhere) is opened by an embedded client, which reads the same key file
    and issues and validates tokens."""
    server = start_server(tmp_path)
    try:
        remote = server.client()
        org = remote.organization.create_organization(display_name="Shared").organization.id
        created = remote.m2m_client.create_organization_client(org, {"name": "svc", "scopes": ["a"]})
        remote.generate_client_token(created.client.client_id, created.plain_secret)
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
        if server.process.stdout is not None:
            server.process.stdout.close()
    key_file = tmp_path / "authgate.db.master-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()

    local = ScalekitClient.local(f"sqlite://{tmp_path / 'authgate.db'}", issuer="https://shared.example.test")
    token = local.generate_client_token(created.client.client_id, created.plain_secret)
    assert local.validate_access_token_and_get_claims(token)["oid"] == org
    assert key_file.read_text() == key


def test_embedded_client_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    key_file = tmp_path / "open.db.master-key"
    key_file.write_text("k" * 44)
    key_file.chmod(0o644)
    with pytest.raises(ScalekitBadRequestException) as caught:
        ScalekitClient.local(f"sqlite://{tmp_path / 'open.db'}")
    assert caught.value.code == "failed_precondition"
    assert "chmod 600" in str(caught.value)
    assert not (tmp_path / "open.db").exists()


def test_concurrent_validation_from_threads(client: ScalekitClient, m2m: M2M) -> None:
    token = client.generate_client_token(m2m.client_id, m2m.secret)
    audiences = [None, "deployment-api.acmecorp.com", ["x", "deployment-api.acmecorp.com"]]
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for n in range(150):
                claims = client.validate_access_token_and_get_claims(token, audience=audiences[(i + n) % 3])
                assert claims["sub"] == m2m.client_id
                assert not client.validate_access_token(token, audience=f"other-{n % 40}")
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures and not any(t.is_alive() for t in threads)
