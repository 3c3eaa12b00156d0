"""`client.m2m_client`: every method, in remote and embedded mode."""

from __future__ import annotations

import pytest

from authgate import (
    CustomClaim,
    OrganizationClient,
    ScalekitBadRequestException,
    ScalekitClient,
    ScalekitNotFoundException,
    ScalekitUnauthorizedException,
)

from .conftest import M2M


def test_create_returns_client_and_secret_once(client: ScalekitClient, org_id: str) -> None:
    wanted = OrganizationClient(
        name="GitHub Actions Deployment Service",
        description="Deploys to production via GitHub Actions",
        scopes=["deploy:applications", "read:deployments"],
        audience=["deployment-api.acmecorp.com"],
        custom_claims=[
            {"key": "github_repository", "value": "acmecorp/inventory-service"},
            {"key": "environment", "value": "production_us"},
        ],
        expiry=3600,
    )
    response = client.m2m_client.create_organization_client(organization_id=org_id, m2m_client=wanted)
    created = response.client
    assert response[0].client.client_id == created.client_id  # official tuple-style access
    assert created.client_id.startswith("m2morg_") and response.plain_secret
    assert (created.organization_id, created.name, created.description) == (org_id, wanted.name, wanted.description)
    assert created.scopes == wanted.scopes and created.audience == wanted.audience and created.expiry == 3600
    assert created.custom_claims == wanted.custom_claims  # compared as in the official test suite
    assert created.custom_claims[0] == CustomClaim("github_repository", "acmecorp/inventory-service")
    assert len(created.secrets) == 1 and created.secrets[0].status == "ACTIVE"
    assert created.secrets[0].secret_suffix == response.plain_secret[-4:]
    assert response.plain_secret not in repr(response) and response.plain_secret not in str(created.to_dict())

    fetched = client.m2m_client.get_organization_client(organization_id=org_id, client_id=created.client_id).client
    assert fetched.to_dict() == created.to_dict()


def test_update_keeps_unset_fields_and_replaces_claims(client: ScalekitClient, m2m: M2M) -> None:
    changed = OrganizationClient(description="new description")
    changed.custom_claims = {"tier": "gold"}  # the dict shorthand
    updated = client.m2m_client.update_organization_client(m2m.organization_id, m2m.client_id, changed).client
    assert updated.description == "new description"
    assert updated.name == "GitHub Actions Deployment Service"
    assert updated.scopes == ["deploy:applications", "read:deployments"]
    assert updated.custom_claims == [CustomClaim("tier", "gold")]
    again = client.m2m_client.update_organization_client(m2m.organization_id, m2m.client_id, {"scopes": ["read:deployments"]})
    assert again.client.scopes == ["read:deployments"] and again.client.description == "new description"


def test_secrets_rotation(client: ScalekitClient, m2m: M2M) -> None:
    added = client.m2m_client.add_organization_client_secret(m2m.organization_id, m2m.client_id)
    assert added.plain_secret and added.plain_secret != m2m.secret and added.secret.id
    assert added.plain_secret not in repr(added)
    # Both secrets work at the token endpoint.
    assert client.generate_client_token(m2m.client_id, m2m.secret)
    assert client.generate_client_token(m2m.client_id, added.plain_secret)
    old = next(s for s in client.m2m_client.get_organization_client(m2m.organization_id, m2m.client_id).client.secrets if s.id != added.secret.id)
    client.m2m_client.remove_organization_client_secret(m2m.organization_id, m2m.client_id, old.id)
    with pytest.raises(ScalekitUnauthorizedException) as caught:
        client.generate_client_token(m2m.client_id, m2m.secret)
    assert caught.value.code == "invalid_client"
    with pytest.raises(ScalekitBadRequestException) as last:
        client.m2m_client.remove_organization_client_secret(m2m.organization_id, m2m.client_id, added.secret.id)
    assert last.value.code == "failed_precondition"


def test_list_and_delete(client: ScalekitClient, m2m: M2M) -> None:
    other = client.m2m_client.create_organization_client(m2m.organization_id, OrganizationClient(name="Second")).client
    page = client.m2m_client.list_organization_clients(organization_id=m2m.organization_id, page_size=10)
    assert page.total_size == 2 and page.next_page_token == ""
    assert [c.client_id for c in page.clients] == [m2m.client_id, other.client_id]
    with pytest.raises(ScalekitBadRequestException):
        client.m2m_client.list_organization_clients(m2m.organization_id, page_size=1)  # Scalekit's 10..100

    client.m2m_client.delete_organization_client(m2m.organization_id, other.client_id)
    with pytest.raises(ScalekitNotFoundException) as caught:
        client.m2m_client.get_organization_client(m2m.organization_id, other.client_id)
    assert caught.value.code == "not_found" and caught.value.http_status == 404
    assert client.m2m_client.list_organization_clients(m2m.organization_id).total_size == 1


def test_bad_input(client: ScalekitClient, org_id: str) -> None:
    with pytest.raises(ScalekitBadRequestException):
        client.m2m_client.create_organization_client(org_id, OrganizationClient(description="no name"))
    with pytest.raises(TypeError):
        client.m2m_client.create_organization_client(org_id, {"nmae": "typo"})
    with pytest.raises(TypeError):
        OrganizationClient(name="x", custom_claims=[{"key": "only-key"}])
    with pytest.raises(ScalekitNotFoundException):
        client.m2m_client.get_organization_client(org_id, "m2morg_404")
    assert client.m2m_client.list_organization_clients(org_id).total_size == 0
