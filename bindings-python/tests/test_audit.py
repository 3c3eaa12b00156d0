"""The audit log (#13 item 5): `client.audit.list_events`, in remote, embedded SQLite and
embedded PostgreSQL mode — management actions are recorded with their actor, targets and
organization, filters and pages work, bad filters are typed errors, and no key is in the log."""

from __future__ import annotations

from datetime import datetime

import pytest

from authgate import AuditEvent, ScalekitBadRequestException, ScalekitClient


def test_management_actions_are_listed_with_filters_and_pages(client: ScalekitClient, org_id: str) -> None:
    key = client.tokens.create_token(organization_id=org_id, description="ci")
    client.tokens.invalidate_token(key.token)

    page = client.audit.list_events(organization_id=org_id)
    assert [e.action for e in page.events] == ["organization.create", "api_key.create", "api_key.revoke"]
    assert page.total_size == 3 and page.next_page_token == ""
    revoked = page.events[-1]
    assert isinstance(revoked, AuditEvent)
    assert revoked.id.startswith("aud_")
    assert revoked.target_ids == [key.token_id]
    assert revoked.organization_id == org_id
    assert revoked.outcome == "success" and revoked.error_code is None
    assert isinstance(revoked.time, datetime) and revoked.time.tzinfo is not None
    if client.mode == "remote":
        assert revoked.actor.startswith("skc_") and revoked.source_address == "127.0.0.1"
    else:
        assert revoked.actor == "embedded" and revoked.source_address is None
    # The key itself is nowhere in the event.
    assert key.token not in repr(revoked.to_dict())
    assert revoked.to_dict()["target_ids"] == [key.token_id]

    only = client.audit.list_events(organization_id=org_id, action="api_key.revoke")
    assert [e.id for e in only.events] == [revoked.id]
    # start_time is inclusive, end_time exclusive (millisecond precision).
    since = client.audit.list_events(organization_id=org_id, start_time=revoked.time)
    assert revoked.id in [e.id for e in since.events]
    assert all(e.time >= revoked.time for e in since.events)
    before = client.audit.list_events(organization_id=org_id, end_time=revoked.time)
    assert revoked.id not in [e.id for e in before.events] and before.events

    first = client.audit.list_events(organization_id=org_id, page_size=2)
    assert len(first.events) == 2 and first.next_page_token
    second = client.audit.list_events(organization_id=org_id, page_size=2, page_token=first.next_page_token)
    assert [e.id for e in second.events] == [revoked.id]
    assert second.prev_page_token


def test_bad_filters_are_typed_errors(client: ScalekitClient, org_id: str) -> None:
    for kwargs in ({"action": "api_key.explode"}, {"organization_id": "acme"}, {"page_size": 101}):
        with pytest.raises(ScalekitBadRequestException) as caught:
            client.audit.list_events(**kwargs)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_argument", kwargs
    client.tokens.create_token(organization_id=org_id)
    first = client.audit.list_events(organization_id=org_id, page_size=1)
    assert first.next_page_token
    with pytest.raises(ScalekitBadRequestException) as caught:
        client.audit.list_events(organization_id=org_id, actor="someone", page_token=first.next_page_token)
    assert caught.value.code == "invalid_argument"
