"""Organization updates, users and memberships (#11): `client.organization.update_organization*`
and every `client.users` method, in remote, embedded SQLite and embedded PostgreSQL mode."""

from __future__ import annotations

from typing import List

import pytest

from authgate import (
    CreateMembership,
    CreateUser,
    ScalekitBadRequestException,
    ScalekitClient,
    ScalekitConflictException,
    ScalekitNotFoundException,
    ScalekitValidateTokenFailureException,
    UpdateMembership,
    UpdateOrganization,
    UpdateUser,
    User,
)

from .conftest import unique


def new_org(client: ScalekitClient, name: str = "Org") -> str:
    return client.organization.create_organization(display_name=name).organization.id


def new_member(client: ScalekitClient, org_id: str, roles: List[str] | None = None) -> User:
    external = unique("user")
    return client.users.create_user_and_membership(
        org_id,
        CreateUser(email=f"{external}@users.test", external_id=external, membership=CreateMembership(roles or [])),
    ).user


def roles_in(user: User, org_id: str) -> List[str] | None:
    for m in user.memberships:
        if m.organization_id == org_id:
            return [r.name for r in m.roles]
    return None


def test_update_organization(client: ScalekitClient) -> None:
    external = unique("org")
    org = client.organization.create_organization(display_name="Before", external_id=external).organization

    renamed = client.organization.update_organization(org.id, UpdateOrganization(display_name="After"))
    assert renamed[0].organization == renamed.organization
    assert (renamed.organization.display_name, renamed.organization.external_id) == ("After", external)
    assert renamed.organization.create_time == org.create_time
    assert client.organization.get_organization(org.id).organization == renamed.organization

    moved_to = unique("org")
    moved = client.organization.update_organization_by_external_id(external, new_external_id=moved_to)
    assert (moved.organization.id, moved.organization.external_id) == (org.id, moved_to)
    assert client.organization.get_organization_by_external_id(moved_to).organization.id == org.id
    with pytest.raises(ScalekitNotFoundException):
        client.organization.get_organization_by_external_id(external)

    # Keywords, and `external_id=""` removes it.
    cleared = client.organization.update_organization(org.id, display_name="Cleared", external_id="").organization
    assert (cleared.display_name, cleared.external_id) == ("Cleared", None)

    # Failures: typed, with the field, and nothing changes.
    other_external = unique("org")
    client.organization.create_organization(display_name="Other", external_id=other_external)
    with pytest.raises(ScalekitConflictException) as conflict:
        client.organization.update_organization(org.id, UpdateOrganization(display_name="X", external_id=other_external))
    assert conflict.value.code == "already_exists"
    with pytest.raises(ScalekitBadRequestException) as empty:
        client.organization.update_organization(org.id, UpdateOrganization())
    assert empty.value.code == "invalid_argument" and "invalid organization:" in empty.value.message
    with pytest.raises(ScalekitBadRequestException) as prefix:
        client.organization.update_organization("usr_123", display_name="x")
    assert "invalid organization_id:" in prefix.value.message
    with pytest.raises(ScalekitNotFoundException):
        client.organization.update_organization("org_404404", display_name="x")
    with pytest.raises(ScalekitBadRequestException):
        client.organization.update_organization_by_external_id("", display_name="x")
    with pytest.raises(TypeError):
        client.organization.update_organization(org.id, UpdateOrganization(display_name="a"), display_name="b")
    assert client.organization.get_organization(org.id).organization == cleared


def test_user_lifecycle(client: ScalekitClient) -> None:
    org = new_org(client)
    ann = new_member(client, org, ["admin"])
    assert ann.external_id is not None

    got = client.users.get_user(ann.id)
    assert got[0].user.id == ann.id and got.user.email == ann.email
    assert roles_in(got.user, org) == ["admin"]
    assert client.users.get_user_by_external_id(ann.external_id).user.id == ann.id

    # The environment-wide list: paged, oldest first, with memberships.
    bob = new_member(client, org)
    seen: List[str] = []
    token = ""
    while True:
        page = client.users.list_users(page_size=100, page_token=token)
        assert page.total_size >= 2
        seen.extend(u.id for u in page.users)
        token = page.next_page_token
        if not token:
            break
    assert seen.index(ann.id) < seen.index(bob.id)
    first = client.users.list_users(page_size=1)
    assert len(first.users) == 1 and first.next_page_token and not first.prev_page_token

    # Update by id and by external id.
    new_external = unique("renamed")
    updated = client.users.update_user(ann.id, UpdateUser(external_id=new_external)).user
    assert (updated.id, updated.external_id) == (ann.id, new_external)
    with pytest.raises(ScalekitNotFoundException):
        client.users.get_user_by_external_id(ann.external_id)
    again = client.users.update_user_by_external_id(new_external, UpdateUser(external_id=ann.external_id)).user
    assert again.external_id == ann.external_id

    # Failures: typed, with the field; nothing changes.
    with pytest.raises(ScalekitConflictException) as taken:
        client.users.update_user(bob.id, UpdateUser(external_id=ann.external_id))
    assert taken.value.code == "already_exists"
    with pytest.raises(ScalekitBadRequestException) as empty:
        client.users.update_user(bob.id, UpdateUser())
    assert "invalid user:" in empty.value.message
    with pytest.raises(ScalekitBadRequestException) as prefix:
        client.users.get_user(org)
    assert "invalid user_id:" in prefix.value.message
    with pytest.raises(ScalekitNotFoundException):
        client.users.update_user("usr_404404", UpdateUser(external_id="x"))
    assert client.users.get_user(bob.id).user.external_id == bob.external_id

    # `external_id=""` removes it.
    assert client.users.update_user(bob.id, UpdateUser(external_id="")).user.external_id is None


def test_deleting_a_user_revokes_their_keys(client: ScalekitClient) -> None:
    org = new_org(client)
    other = new_org(client, "Other")
    ann = new_member(client, org)
    client.users.create_membership(other, ann.id, CreateMembership(["viewer"]))
    bob = new_member(client, org)
    keys = [client.tokens.create_token(organization_id=o, user_id=ann.id).token for o in (org, other)]
    bob_key = client.tokens.create_token(organization_id=org, user_id=bob.id).token
    for key in keys:
        assert client.tokens.validate_token(key).token_info.user_id == ann.id

    assert ann.external_id is not None
    client.users.delete_user_by_external_id(ann.external_id)
    for key in keys:
        with pytest.raises(ScalekitValidateTokenFailureException):
            client.tokens.validate_token(key)
    assert client.tokens.validate_token(bob_key).token_info.user_id == bob.id
    with pytest.raises(ScalekitNotFoundException):
        client.users.get_user(ann.id)
    assert [u.id for u in client.users.list_organization_users(org).users] == [bob.id]
    with pytest.raises(ScalekitNotFoundException):
        client.users.delete_user(ann.id)

    client.users.delete_user(bob.id)
    with pytest.raises(ScalekitValidateTokenFailureException):
        client.tokens.validate_token(bob_key)


def test_memberships(client: ScalekitClient) -> None:
    home = new_org(client, "Home")
    second = new_org(client, "Second")
    third = new_org(client, "Third")
    ann = new_member(client, home, ["admin"])
    assert ann.external_id is not None

    joined = client.users.create_membership(second, ann.id, CreateMembership(["viewer"]), send_invitation_email=False)
    assert roles_in(joined.user, second) == ["viewer"]
    joined = client.users.create_membership_by_external_id(third, ann.external_id, CreateMembership())
    assert roles_in(joined.user, third) == []
    with pytest.raises(ScalekitConflictException):
        client.users.create_membership(second, ann.id, CreateMembership(["x"]))

    key = client.tokens.create_token(organization_id=second, user_id=ann.id).token
    assert client.tokens.validate_token(key).token_info.roles == ["viewer"]
    updated = client.users.update_membership(second, ann.id, UpdateMembership(["owner", "billing"])).user
    assert roles_in(updated, second) == ["owner", "billing"] and roles_in(updated, home) == ["admin"]
    assert client.tokens.validate_token(key).token_info.roles == ["owner", "billing"]
    updated = client.users.update_membership_by_external_id(second, ann.external_id, UpdateMembership([])).user
    assert roles_in(updated, second) == []
    with pytest.raises(ScalekitBadRequestException) as bad_role:
        client.users.update_membership(second, ann.id, UpdateMembership(["has space"]))
    assert "invalid roles:" in bad_role.value.message

    home_key = client.tokens.create_token(organization_id=home, user_id=ann.id).token
    client.users.delete_membership(second, ann.id)
    with pytest.raises(ScalekitValidateTokenFailureException):
        client.tokens.validate_token(key)
    assert client.tokens.validate_token(home_key).token_info.user_id == ann.id
    client.users.delete_membership_by_external_id(third, ann.external_id)
    user = client.users.get_user(ann.id).user
    assert [m.organization_id for m in user.memberships] == [home]
    with pytest.raises(ScalekitNotFoundException):
        client.users.delete_membership(second, ann.id)
    with pytest.raises(ScalekitNotFoundException):
        client.users.update_membership(second, ann.id, UpdateMembership(["x"]))
