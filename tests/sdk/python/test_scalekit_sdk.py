"""The official Scalekit Python SDK (scalekit-sdk-python 2.21.0), unmodified, against a real
`authgate serve` over TLS with a CA from `authgate dev-cert`.

The SDK always speaks gRPC over TLS (even for an http:// URL) and trusts a private CA through
GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (gRPC) and REQUESTS_CA_BUNDLE (the token endpoint and JWKS).
One server for the whole module. AUTHGATE_BIN names the binary.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.request
import ssl
from typing import Iterator

import pytest

LISTENING = re.compile(r"authgate listening on (\S+)")


class Server:
    def __init__(self, url: str, client_id: str, client_secret: str, ca: str, proc) -> None:
        self.url, self.client_id, self.client_secret, self.ca, self.proc = (
            url, client_id, client_secret, ca, proc,
        )

    def metric(self, name: str) -> float:
        """One sample of /metrics (0 when absent)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(f"{self.url}/metrics", context=ctx, timeout=10) as r:
            text = r.read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    binary = os.environ["AUTHGATE_BIN"]
    with tempfile.TemporaryDirectory(prefix="authgate-sdk-py-") as tmp:
        subprocess.run([binary, "dev-cert", "--out", tmp], check=True, capture_output=True)
        ca = os.path.join(tmp, "ca.pem")
        # Both replace the default roots; set before the SDK opens its first channel.
        os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = ca
        os.environ["REQUESTS_CA_BUNDLE"] = ca
        client_id, client_secret = f"skc_{secrets.token_hex(8)}", secrets.token_hex(24)
        env = dict(
            os.environ,
            AUTHGATE_CLIENT_ID=client_id,
            AUTHGATE_CLIENT_SECRET=client_secret,
            AUTHGATE_LOG="info",
        )
        proc = subprocess.Popen(
            [
                binary, "serve",
                "--database", f"sqlite://{tmp}/authgate.db",
                "--listen", "127.0.0.1:0",
                "--tls-cert", os.path.join(tmp, "cert.pem"),
                "--tls-key", os.path.join(tmp, "key.pem"),
            ],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        url = None
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = LISTENING.search(line)
            if m:
                url = m.group(1)
                break
        assert url, f"server did not start: {proc.stderr.read() if proc.stderr else ''}"
        assert url.startswith("https://127.0.0.1:")
        # Keep draining the pipes so the server never blocks on a full one.
        for stream in (proc.stdout, proc.stderr):
            threading.Thread(target=stream.read, daemon=True).start()
        try:
            yield Server(url, client_id, client_secret, ca, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def sc(server: Server):
    from scalekit import ScalekitClient

    return ScalekitClient(server.url, server.client_id, server.client_secret)


@pytest.fixture(scope="module")
def org(sc):
    from scalekit.v1.organizations.organizations_pb2 import CreateOrganization

    ext = f"ext-{secrets.token_hex(4)}"
    created = sc.organization.create_organization(
        CreateOrganization(display_name="Acme Py", external_id=ext)
    )
    response = created[0] if isinstance(created, tuple) else created
    return response.organization


def unwrap(result):
    """Organization, user and M2M methods return (response, grpc.Call); token methods the message."""
    return result[0] if isinstance(result, tuple) else result


def test_organizations(sc, org):
    from scalekit.common.exceptions import ScalekitNotFoundException
    from scalekit.v1.organizations.organizations_pb2 import CreateOrganization

    assert org.id.startswith("org_")
    assert org.display_name == "Acme Py"
    got = unwrap(sc.organization.get_organization(org.id)).organization
    assert got.id == org.id and got.external_id == org.external_id
    by_ext = unwrap(sc.organization.get_organization_by_external_id(org.external_id)).organization
    assert by_ext.id == org.id
    listed = unwrap(sc.organization.list_organizations(page_size=100))
    assert org.id in [o.id for o in listed.organizations]
    assert listed.total_size >= 1

    doomed = unwrap(sc.organization.create_organization(CreateOrganization(display_name="Doomed"))).organization
    sc.organization.delete_organization(doomed.id)
    with pytest.raises(ScalekitNotFoundException):
        sc.organization.get_organization(doomed.id)


def test_users(sc, org):
    from scalekit.v1.commons.commons_pb2 import Role
    from scalekit.v1.users.users_pb2 import CreateMembership, CreateUser

    email = f"ada-{secrets.token_hex(4)}@example.com"
    user = unwrap(
        sc.users.create_user_and_membership(
            org.id,
            CreateUser(email=email, external_id="ada-1", membership=CreateMembership(roles=[Role(name="admin")])),
        )
    ).user
    assert user.id.startswith("usr_") and user.email == email
    assert [m.organization_id for m in user.memberships] == [org.id]
    assert [r.name for r in user.memberships[0].roles] == ["admin"]
    members = unwrap(sc.users.list_organization_users(org.id, page_size=10))
    assert user.id in [u.id for u in members.users]


def test_user_methods_the_core_lacks_are_unimplemented(sc, org):
    # GetUser / UpdateUser / DeleteUser / memberships need core support (see the README).
    from scalekit.common.exceptions import ScalekitNotImplementedException

    with pytest.raises(ScalekitNotImplementedException):
        sc.users.get_user("usr_1")


def test_api_keys(sc, server, org):
    from google.protobuf.timestamp_pb2 import Timestamp
    from scalekit.common.exceptions import ScalekitValidateTokenFailureException
    from scalekit.v1.users.users_pb2 import CreateUser

    user = unwrap(
        sc.users.create_user_and_membership(org.id, CreateUser(email=f"k-{secrets.token_hex(4)}@example.com"))
    ).user
    expiry = Timestamp(seconds=int(time.time()) + 3600)
    org_key = sc.tokens.create_token(org.id, custom_claims={"env": "test"}, expiry=expiry, description="org key")
    assert org_key.token and org_key.token_id.startswith("apit_")
    assert org_key.token_info.custom_claims["env"] == "test"
    assert org_key.token_info.expiry.seconds == expiry.seconds
    user_key = sc.tokens.create_token(org.id, user_id=user.id, description="user key")
    assert user_key.token_info.user_id == user.id

    valid = sc.tokens.validate_token(org_key.token)
    assert valid.token_info.token_id == org_key.token_id
    assert valid.token_info.organization_id == org.id

    # Paging and the user filter.
    for i in range(3):
        sc.tokens.create_token(org.id, description=f"page {i}")
    first = sc.tokens.list_tokens(org.id, page_size=2)
    assert len(first.tokens) == 2 and first.next_page_token and first.total_count == 5
    second = sc.tokens.list_tokens(org.id, page_size=2, page_token=first.next_page_token)
    assert {t.token_id for t in first.tokens}.isdisjoint({t.token_id for t in second.tokens})
    only_user = sc.tokens.list_tokens(org.id, user_id=user.id)
    assert [t.token_id for t in only_user.tokens] == [user_key.token_id]

    # Update: the SDK validates, merges the claims client-side and sends the whole map.
    updated = sc.tokens.update_token(org_key.token, custom_claims={"team": "core"}, description="renamed")
    assert dict(updated.token_info.custom_claims) == {"env": "test", "team": "core"}
    assert updated.token_info.description == "renamed"

    # Invalidate (by id), twice: idempotent. The key is then refused, with no re-authentication.
    sc.tokens.invalidate_token(org_key.token_id)
    sc.tokens.invalidate_token(org_key.token_id)
    issued = server.metric('authgate_token_requests_total{outcome="issued"}')
    refused = server.metric('authgate_api_key_validations_total{outcome="invalid"}')
    started = time.perf_counter()
    with pytest.raises(ScalekitValidateTokenFailureException):
        sc.tokens.validate_token(org_key.token)
    elapsed = time.perf_counter() - started
    print(f"refused key raised ScalekitValidateTokenFailureException in {elapsed * 1000:.1f} ms")
    assert server.metric('authgate_api_key_validations_total{outcome="invalid"}') == refused + 1
    assert server.metric('authgate_token_requests_total{outcome="issued"}') == issued
    with pytest.raises(ScalekitValidateTokenFailureException):
        sc.tokens.validate_token("agk_not_a_real_key")


def test_m2m_clients_and_tokens(sc, server, org):
    from scalekit.common.exceptions import ScalekitServerException
    from scalekit.common.scalekit import TokenValidationOptions
    from scalekit.v1.clients.clients_pb2 import OrganizationClient

    created = unwrap(
        sc.m2m_client.create_organization_client(
            org.id,
            OrganizationClient(name="billing", description="billing job", scopes=["read:invoices", "write:invoices"]),
        )
    )
    client, first_secret = created.client, created.plain_secret
    assert client.client_id.startswith("m2morg_") and first_secret
    got = unwrap(sc.m2m_client.get_organization_client(org.id, client.client_id)).client
    assert got.name == "billing" and list(got.scopes) == ["read:invoices", "write:invoices"]
    listed = unwrap(sc.m2m_client.list_organization_clients(org.id))
    assert client.client_id in [c.client_id for c in listed.clients]
    updated = unwrap(
        sc.m2m_client.update_organization_client(org.id, client.client_id, OrganizationClient(description="nightly"))
    ).client
    assert updated.description == "nightly" and updated.name == "billing"

    added = unwrap(sc.m2m_client.add_organization_client_secret(org.id, client.client_id))
    assert added.plain_secret and added.secret.id
    first_id = next(s.id for s in got.secrets)
    sc.m2m_client.remove_organization_client_secret(org.id, client.client_id, first_id)
    with pytest.raises(ScalekitServerException):
        # The last secret cannot be removed.
        sc.m2m_client.remove_organization_client_secret(org.id, client.client_id, added.secret.id)

    # generate_client_token (the token request carries the SDK's own Bearer header) and the
    # SDK's JWT validation against /keys, with required scopes.
    token = sc.generate_client_token(client.client_id, added.plain_secret)
    claims = sc.validate_token(token, options=TokenValidationOptions(issuer=server.url, required_scopes=["read:invoices"]))
    assert claims["client_id"] == client.client_id or claims["sub"] == client.client_id
    assert sc.validate_access_token(token)
    from scalekit.common.exceptions import ScalekitValidateTokenFailureException

    with pytest.raises(ScalekitValidateTokenFailureException):
        sc.validate_token(token, options=TokenValidationOptions(required_scopes=["admin:all"]))
    assert sc.get_client_access_token()

    sc.m2m_client.delete_organization_client(org.id, client.client_id)
    with pytest.raises(ScalekitServerException):
        sc.m2m_client.get_organization_client(org.id, client.client_id)


def test_unserved_methods_are_unimplemented(sc):
    from scalekit.common.exceptions import ScalekitNotImplementedException

    with pytest.raises(ScalekitNotImplementedException):
        sc.domain.list_domains(organization_id="org_1")
