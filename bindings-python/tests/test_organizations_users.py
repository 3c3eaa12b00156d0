"""`client.organization` and `client.users`, in remote and embedded mode."""

from __future__ import annotations

import pytest

from authgate import (
    CreateMembership,
    CreateOrganization,
    CreateUser,
    Role,
    ScalekitBadRequestException,
    ScalekitClient,
    ScalekitConflictException,
    ScalekitNotFoundException,
)

from .conftest import unique


def test_create_get_list_delete(client: ScalekitClient) -> None:
    external = unique("ext")
    created = client.organization.create_organization(organization=CreateOrganization(display_name="Acme", external_id=external))
    org = created.organization
    assert org.id.startswith("org_") and (org.display_name, org.external_id) == ("Acme", external)
    assert created[0].organization == org
    assert client.organization.get_organization(organization_id=org.id).organization == org
    assert client.organization.get_organization_by_external_id(external).organization == org

    plain = client.organization.create_organization(display_name="Plain keywords").organization
    assert plain.external_id is None

    first = client.organization.list_organizations(page_size=1)
    assert len(first.organizations) == 1 and first.total_size >= 2 and first.next_page_token
    seen = set()
    token = ""
    while True:
        page = client.organization.list_organizations(page_size=50, page_token=token)
        seen.update(o.id for o in page.organizations)
        token = page.next_page_token
        if not token:
            break
    assert {org.id, plain.id} <= seen

    client.organization.delete_organization(organization_id=plain.id)
    with pytest.raises(ScalekitNotFoundException):
        client.organization.get_organization(plain.id)


def test_organization_errors(client: ScalekitClient) -> None:
    external = unique("dup")
    client.organization.create_organization(display_name="One", external_id=external)
    with pytest.raises(ScalekitConflictException) as caught:
        client.organization.create_organization(display_name="Two", external_id=external)
    assert caught.value.code == "already_exists" and caught.value.http_status == 409
    with pytest.raises(ScalekitBadRequestException):
        client.organization.create_organization(display_name="")
    with pytest.raises(TypeError):
        client.organization.create_organization()
    with pytest.raises(TypeError):
        client.organization.create_organization(CreateOrganization(display_name="x"), display_name="y")
    with pytest.raises(ScalekitNotFoundException):
        client.organization.get_organization_by_external_id(unique("missing"))


def test_users_and_memberships(client: ScalekitClient, org_id: str) -> None:
    email = f"{unique('jane')}@acme.test"
    membership = CreateMembership(roles=["admin", Role(name="member"), {"name": "billing"}])
    assert membership.roles == ["admin", "member", "billing"]
    response = client.users.create_user_and_membership(
        organization_id=org_id,
        user=CreateUser(email=email, external_id=unique("jane"), membership=membership),
        send_invitation_email=False,
    )
    user = response.user
    assert response[0].user.id == user.id and user.id.startswith("usr_") and user.email == email
    assert [m.organization_id for m in user.memberships] == [org_id]
    assert sorted(r.name for r in user.memberships[0].roles) == ["admin", "billing", "member"]

    listed = client.users.list_organization_users(org_id)
    assert [u.id for u in listed.users] == [user.id] and listed.total_size == 1

    with pytest.raises(ScalekitBadRequestException):
        client.users.create_user_and_membership(org_id, CreateUser(email="not-an-email"))
    with pytest.raises(ScalekitNotFoundException):
        client.users.create_user_and_membership("org_404", CreateUser(email=f"{unique('x')}@acme.test"))
