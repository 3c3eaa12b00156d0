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


def test_organization_update(sc):
    from scalekit.common.exceptions import (
        ScalekitBadRequestException,
        ScalekitConflictException,
        ScalekitNotFoundException,
    )
    from scalekit.v1.organizations.organizations_pb2 import CreateOrganization, UpdateOrganization

    ext = f"upd-{secrets.token_hex(4)}"
    org = unwrap(sc.organization.create_organization(CreateOrganization(display_name="Before", external_id=ext))).organization
    # No update mask: the fields present are the update.
    renamed = unwrap(sc.organization.update_organization(org.id, UpdateOrganization(display_name="After"))).organization
    assert (renamed.id, renamed.display_name, renamed.external_id) == (org.id, "After", ext)
    moved = f"upd-{secrets.token_hex(4)}"
    by_ext = unwrap(
        sc.organization.update_organization_by_external_id(ext, UpdateOrganization(external_id=moved))
    ).organization
    assert (by_ext.id, by_ext.display_name, by_ext.external_id) == (org.id, "After", moved)
    got = unwrap(sc.organization.get_organization_by_external_id(moved)).organization
    assert got.display_name == "After"

    other = unwrap(sc.organization.create_organization(CreateOrganization(display_name="Other", external_id=ext))).organization
    with pytest.raises(ScalekitConflictException):
        sc.organization.update_organization(other.id, UpdateOrganization(external_id=moved))
    with pytest.raises(ScalekitBadRequestException):
        sc.organization.update_organization(org.id, UpdateOrganization())
    with pytest.raises(ScalekitBadRequestException):
        sc.organization.update_organization(org.id, UpdateOrganization(display_name="x", metadata={"a": "b"}))
    with pytest.raises(ScalekitNotFoundException):
        sc.organization.update_organization("org_404404", UpdateOrganization(display_name="x"))
    assert unwrap(sc.organization.get_organization(org.id)).organization.display_name == "After"


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


def test_user_lifecycle(sc, org):
    from scalekit.common.exceptions import (
        ScalekitBadRequestException,
        ScalekitConflictException,
        ScalekitNotFoundException,
        ScalekitValidateTokenFailureException,
    )
    from scalekit.v1.commons.commons_pb2 import Role
    from scalekit.v1.organizations.organizations_pb2 import CreateOrganization
    from scalekit.v1.users.users_pb2 import CreateMembership, CreateUser, UpdateMembership, UpdateUser

    ext = f"bea-{secrets.token_hex(4)}"
    user = unwrap(
        sc.users.create_user_and_membership(
            org.id,
            CreateUser(
                email=f"{ext}@example.com", external_id=ext, membership=CreateMembership(roles=[Role(name="viewer")])
            ),
        )
    ).user

    # Get, by id and by external id; the environment-wide list.
    got = unwrap(sc.users.get_user(user.id)).user
    assert (got.id, got.email, got.external_id) == (user.id, user.email, ext)
    assert [r.name for r in got.memberships[0].roles] == ["viewer"]
    assert unwrap(sc.users.get_user_by_external_id(ext)).user.id == user.id
    listed = unwrap(sc.users.list_users(page_size=100))
    assert user.id in [u.id for u in listed.users] and listed.total_size >= 1
    with pytest.raises(ScalekitNotFoundException):
        sc.users.get_user("usr_404404")

    # Update, by id and by external id.
    renamed = f"bea-{secrets.token_hex(4)}"
    updated = unwrap(sc.users.update_user(user.id, UpdateUser(external_id=renamed))).user
    assert updated.external_id == renamed
    updated = unwrap(sc.users.update_user_by_external_id(renamed, UpdateUser(external_id=ext))).user
    assert updated.external_id == ext
    with pytest.raises(ScalekitBadRequestException):
        sc.users.update_user(user.id, UpdateUser())

    # Memberships: create in a second organization, update its roles, delete it (with the
    # user's key there).
    second = unwrap(sc.organization.create_organization(CreateOrganization(display_name="Second"))).organization
    joined = unwrap(
        sc.users.create_membership(second.id, user.id, CreateMembership(roles=[Role(name="admin")]), send_invitation_email=False)
    ).user
    assert sorted(m.organization_id for m in joined.memberships) == sorted([org.id, second.id])
    with pytest.raises(ScalekitConflictException):
        sc.users.create_membership(second.id, user.id, CreateMembership())
    key = sc.tokens.create_token(second.id, user_id=user.id)
    assert list(sc.tokens.validate_token(key.token).token_info.roles) == ["admin"]
    changed = unwrap(sc.users.update_membership(second.id, user.id, UpdateMembership(roles=[Role(name="owner")]))).user
    assert [r.name for m in changed.memberships if m.organization_id == second.id for r in m.roles] == ["owner"]
    assert list(sc.tokens.validate_token(key.token).token_info.roles) == ["owner"]
    sc.users.delete_membership(second.id, user.id)
    with pytest.raises(ScalekitValidateTokenFailureException):
        sc.tokens.validate_token(key.token)
    by_ext = unwrap(sc.users.create_membership_by_external_id(second.id, ext, CreateMembership())).user
    assert second.id in [m.organization_id for m in by_ext.memberships]
    unwrap(sc.users.update_membership_by_external_id(second.id, ext, UpdateMembership(roles=[Role(name="x")])))
    sc.users.delete_membership_by_external_id(second.id, ext)
    with pytest.raises(ScalekitNotFoundException):
        sc.users.delete_membership(second.id, user.id)

    # Delete: the user, their memberships and their keys go at once.
    org_key = sc.tokens.create_token(org.id, user_id=user.id)
    sc.users.delete_user(user.id)
    with pytest.raises(ScalekitValidateTokenFailureException):
        sc.tokens.validate_token(org_key.token)
    with pytest.raises(ScalekitNotFoundException):
        sc.users.get_user(user.id)
    members = unwrap(sc.users.list_organization_users(org.id, page_size=100))
    assert user.id not in [u.id for u in members.users]

    other = unwrap(sc.users.create_user_and_membership(org.id, CreateUser(email=f"o-{ext}@example.com", external_id=f"o-{ext}"))).user
    sc.users.delete_user_by_external_id(f"o-{ext}")
    with pytest.raises(ScalekitNotFoundException):
        sc.users.get_user(other.id)


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
    # By id, as Scalekit's ValidateToken accepts (an admin lookup on the server).
    by_id = sc.tokens.validate_token(org_key.token_id)
    assert by_id.token_info.token_id == org_key.token_id
    assert by_id.token_info.description == "org key"

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
    # The revoked key's id is refused too.
    with pytest.raises(ScalekitValidateTokenFailureException):
        sc.tokens.validate_token(org_key.token_id)


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
