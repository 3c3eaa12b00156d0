"""`client.tokens`: every method, in remote and embedded mode."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from authgate import (
    CreateMembership,
    CreateUser,
    ScalekitBadRequestException,
    ScalekitClient,
    ScalekitValidateTokenFailureException,
    TokenInfo,
)

from .conftest import unique

UTC = dt.timezone.utc


def test_org_scoped_key_round_trip(client: ScalekitClient, org_id: str) -> None:
    response = client.tokens.create_token(organization_id=org_id, description="CI/CD pipeline token")
    assert response.token and response.token_id.startswith("apit_")
    assert response[0] is response  # official SDK code indexing a (response, call) tuple
    info = response.token_info
    assert isinstance(info, TokenInfo)
    assert (info.token_id, info.organization_id, info.description) == (response.token_id, org_id, "CI/CD pipeline token")
    assert info.user_id is None and info.email is None and info.roles == [] and info.expiry is None
    assert info.token_suffix == response.token[-4:]
    assert info.created_at.tzinfo is not None
    assert abs(info.created_at - dt.datetime.now(UTC)) < dt.timedelta(minutes=5)

    result = client.tokens.validate_token(token=response.token)
    assert result.token_info == info
    assert result.token_info.organization_external_id.startswith("acme-")


def test_user_scoped_key_with_claims_roles_and_expiry(client: ScalekitClient, org_id: str) -> None:
    user = client.users.create_user_and_membership(
        org_id, CreateUser(email=f"{unique('dev')}@acme.test", membership=CreateMembership(roles=["admin", "deployer"]))
    ).user
    expiry = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=30)
    response = client.tokens.create_token(
        organization_id=org_id,
        user_id=user.id,
        custom_claims={"team": "engineering", "environment": "production"},
        expiry=expiry,
        description="Deployment service token",
    )
    info = client.tokens.validate_token(token=response.token).token_info
    assert info.user_id == user.id and info.email == user.email
    assert info.custom_claims == {"team": "engineering", "environment": "production"}
    assert sorted(info.roles) == ["admin", "deployer"]
    assert info.expiry == expiry


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(lambda at: at, id="aware"),
        pytest.param(lambda at: at.replace(tzinfo=None), id="naive-utc"),
        pytest.param(lambda at: at.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))), id="other-offset"),
        pytest.param(lambda at: int(at.timestamp()), id="unix-int"),
        pytest.param(lambda at: at.timestamp(), id="unix-float"),
        pytest.param(lambda at: SimpleNamespace(seconds=int(at.timestamp()), nanos=0), id="protobuf-timestamp"),
    ],
)
def test_expiry_forms(embedded_client: ScalekitClient, given: object) -> None:
    org = embedded_client.organization.create_organization(display_name="Expiry").organization.id
    at = dt.datetime(2031, 5, 17, 12, 30, 0, tzinfo=UTC)
    info = embedded_client.tokens.create_token(organization_id=org, expiry=given(at)).token_info  # type: ignore[operator]
    assert info.expiry == at


def test_expired_key_stops_validating(tmp_path: Path) -> None:
    # Time passes without waiting for it: the key's expiry is moved into the past in the store.
    path = tmp_path / "expiry.db"
    client = ScalekitClient.local(f"sqlite://{path}", issuer="https://api.example.test")
    org = client.organization.create_organization(display_name="Short").organization.id
    response = client.tokens.create_token(organization_id=org, expiry=time.time() + 3600)
    client.tokens.validate_token(response.token)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE authgate_api_keys SET expiry = 1000 WHERE id = ?", (response.token_id,))
    db.close()
    with pytest.raises(ScalekitValidateTokenFailureException) as caught:
        client.tokens.validate_token(response.token)
    assert caught.value.code == "token_validation_failed"


def test_bad_input_is_a_typed_error_and_changes_nothing(client: ScalekitClient, org_id: str) -> None:
    with pytest.raises(ScalekitBadRequestException) as caught:
        client.tokens.create_token(organization_id="")
    assert caught.value.code == "invalid_argument" and caught.value.http_status == 400
    assert isinstance(caught.value, ValueError)  # the official SDK raises ValueError here
    with pytest.raises(ScalekitBadRequestException):
        client.tokens.create_token(organization_id=org_id, expiry=dt.datetime(2001, 1, 1, tzinfo=UTC))
    with pytest.raises(ScalekitBadRequestException):
        client.tokens.create_token(organization_id=org_id, custom_claims={"k": "v" * 300})
    with pytest.raises(TypeError):
        client.tokens.create_token(organization_id=org_id, expiry="tomorrow")
    assert client.tokens.list_tokens(organization_id=org_id).total_count == 0


def test_validation_failures_are_one_exception(client: ScalekitClient, org_id: str) -> None:
    created = client.tokens.create_token(organization_id=org_id)
    for bad in ["", "not-a-key", created.token[:-1] + ("A" if created.token[-1] != "A" else "B"), created.token_id]:
        with pytest.raises(ScalekitValidateTokenFailureException) as caught:
            client.tokens.validate_token(bad)
        assert caught.value.code == "token_validation_failed"
        assert created.token not in str(caught.value)


def test_list_with_pagination_and_user_filter(client: ScalekitClient, org_id: str) -> None:
    user = client.users.create_user_and_membership(org_id, CreateUser(email=f"{unique('u')}@acme.test")).user
    ids = [client.tokens.create_token(organization_id=org_id, description=f"org key {i}").token_id for i in range(3)]
    user_key = client.tokens.create_token(organization_id=org_id, user_id=user.id, description="user key").token_id

    first = client.tokens.list_tokens(organization_id=org_id, page_size=2)
    assert first.total_count == 4 and len(first.tokens) == 2 and first.next_page_token
    second = client.tokens.list_tokens(organization_id=org_id, page_size=2, page_token=first.next_page_token)
    assert [t.token_id for t in first.tokens + second.tokens] == [*ids, user_key]
    assert second.next_page_token == "" and second.prev_page_token

    mine = client.tokens.list_tokens(organization_id=org_id, user_id=user.id)
    assert [t.token_id for t in mine.tokens] == [user_key] and mine.total_count == 1


def test_update_replaces_claims_and_description(client: ScalekitClient, org_id: str) -> None:
    created = client.tokens.create_token(organization_id=org_id, custom_claims={"a": "1", "b": "2"}, description="old")
    updated = client.tokens.update_token(created.token_id, custom_claims={"c": "3"}).token_info
    assert updated.custom_claims == {"c": "3"} and updated.description == "old"
    updated = client.tokens.update_token(created.token, description="").token_info
    assert updated.custom_claims == {"c": "3"} and not updated.description
    assert client.tokens.validate_token(created.token).token_info.custom_claims == {"c": "3"}


def test_invalidate_by_key_or_id_is_instant_and_idempotent(client: ScalekitClient, org_id: str) -> None:
    by_key = client.tokens.create_token(organization_id=org_id)
    by_id = client.tokens.create_token(organization_id=org_id)
    client.tokens.validate_token(by_key.token)
    client.tokens.invalidate_token(token=by_key.token)
    client.tokens.invalidate_token(token=by_id.token_id)
    client.tokens.invalidate_token(token=by_id.token_id)  # idempotent
    for created in (by_key, by_id):
        with pytest.raises(ScalekitValidateTokenFailureException):
            client.tokens.validate_token(created.token)
    assert client.tokens.list_tokens(organization_id=org_id).total_count == 0


def test_rotation_with_a_grace_period_and_revoked_keys_in_listings(client: ScalekitClient, org_id: str) -> None:
    old = client.tokens.create_token(organization_id=org_id, custom_claims={"env": "prod"}, description="bot")
    assert old.token_info.rotated_from is None and old.token_info.rotated_to is None
    assert "rotated_to" not in old.token_info.to_dict() and "revoked_at" not in old.token_info.to_dict()

    new = client.tokens.rotate_token(old.token_id, grace_period_seconds=3600)
    assert new.token != old.token and new.token_id != old.token_id
    assert new.token_info.rotated_from == old.token_id
    assert new.token_info.custom_claims == {"env": "prod"} and new.token_info.description == "bot"
    # Both validate during the grace period; the old key's expiry is the end of grace.
    old_info = client.tokens.validate_token(old.token).token_info
    assert old_info.rotated_to == new.token_id
    assert old_info.expiry is not None
    assert dt.timedelta(minutes=59) < old_info.expiry - dt.datetime.now(UTC) <= dt.timedelta(hours=1)
    client.tokens.validate_token(new.token)
    with pytest.raises(ScalekitBadRequestException) as caught:
        client.tokens.rotate_token(old.token)  # already rotated
    assert caught.value.code == "failed_precondition"

    # No grace: the key being rotated stops validating at once and is listed only with revoked keys.
    third = client.tokens.rotate_token(token=new.token, grace_period_seconds=0)
    with pytest.raises(ScalekitValidateTokenFailureException):
        client.tokens.validate_token(new.token)
    live = client.tokens.list_tokens(organization_id=org_id)
    assert [t.token_id for t in live.tokens] == [old.token_id, third.token_id]
    assert all(t.revoked_at is None for t in live.tokens)
    everything = client.tokens.list_tokens(organization_id=org_id, include_revoked=True)
    assert [t.token_id for t in everything.tokens] == [old.token_id, new.token_id, third.token_id]
    revoked = everything.tokens[1]
    assert revoked.revoked_at is not None and revoked.revoked_at.tzinfo is not None
    assert revoked.rotated_to == third.token_id

    with pytest.raises(ScalekitBadRequestException) as caught:
        client.tokens.rotate_token(third.token_id, grace_period_seconds=-1)
    assert caught.value.code == "invalid_argument"
    assert client.tokens.list_tokens(organization_id=org_id, include_revoked=True).total_count == 3


def test_last_used_time_and_unused_since(client: ScalekitClient, org_id: str) -> None:
    used = client.tokens.create_token(organization_id=org_id)
    idle = client.tokens.create_token(organization_id=org_id)
    assert used.token_info.last_used_time is None  # written by a flush, every few seconds
    client.tokens.validate_token(used.token)
    # Keys not used since a future time: every live key, the one just validated included.
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=1)
    page = client.tokens.list_tokens(organization_id=org_id, unused_since=later)
    assert [t.token_id for t in page.tokens] == [used.token_id, idle.token_id]
    page = client.tokens.list_tokens(organization_id=org_id, unused_since=int(later.timestamp()))
    assert page.total_count == 2
    with pytest.raises(TypeError):
        client.tokens.list_tokens(organization_id=org_id, unused_since="yesterday")  # type: ignore[arg-type]


def test_reprs_never_show_secrets(client: ScalekitClient, org_id: str) -> None:
    created = client.tokens.create_token(organization_id=org_id, description="repr")
    assert created.token not in repr(created) and "<redacted>" in repr(created)
    assert created.token_id in repr(created)
    assert created.token not in repr(created.token_info) and created.token not in str(created.token_info.to_dict())
    assert created.token_info.to_dict()["organization_id"] == org_id
