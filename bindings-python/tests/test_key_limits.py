"""Per-key networks (``allowed_cidrs``) and rate limits (``rate_limit``), authgate extensions of
``client.tokens``: create, update, rotate and validate with them, in every mode (remote against
the real server, embedded on SQLite, embedded on PostgreSQL)."""

from __future__ import annotations

import pytest

from authgate import (
    RateLimit,
    ScalekitBadRequestException,
    ScalekitClient,
    ScalekitRateLimitedException,
    ScalekitTooManyRequestsException,
    ScalekitValidateTokenFailureException,
)

from .conftest import DAY, fresh_day_window, wait_for_refusals

def test_networks_and_rate_limit_are_stored_and_shown(client: ScalekitClient, org_id: str) -> None:
    created = client.tokens.create_token(
        organization_id=org_id,
        allowed_cidrs=["10.0.0.0/8", "2001:DB8::/32", "192.0.2.7"],
        rate_limit={"limit": 100, "window_seconds": 60},
    )
    info = created.token_info
    assert info.allowed_cidrs == ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]  # canonical
    assert info.rate_limit == RateLimit(100, 60)
    assert (info.rate_limit.limit, info.rate_limit.window_seconds) == (100, 60)
    plain = info.to_dict()
    assert plain["allowed_cidrs"] == ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]
    assert plain["rate_limit"] == {"limit": 100, "window_seconds": 60}
    listed = client.tokens.list_tokens(organization_id=org_id).tokens[0]
    assert listed.allowed_cidrs == info.allowed_cidrs and listed.rate_limit == info.rate_limit

    # Unset: absent, and left out of to_dict (the Scalekit shape is unchanged).
    bare = client.tokens.create_token(organization_id=org_id).token_info
    assert bare.allowed_cidrs is None and bare.rate_limit is None
    assert "allowed_cidrs" not in bare.to_dict() and "rate_limit" not in bare.to_dict()


def test_validation_inside_and_outside_the_networks(client: ScalekitClient, org_id: str) -> None:
    created = client.tokens.create_token(organization_id=org_id, allowed_cidrs=["10.0.0.0/8", "2001:db8::/32"])
    key = created.token
    assert client.tokens.validate_token(key, client_ip="10.1.2.3").token_info.allowed_cidrs
    client.tokens.validate_token(key, client_ip="::ffff:10.9.9.9")  # IPv4-mapped is IPv4
    client.tokens.validate_token(key, client_ip="2001:db8:1::5")
    for outside in ["11.0.0.1", "2001:db9::1", None]:
        with pytest.raises(ScalekitValidateTokenFailureException) as caught:
            client.tokens.validate_token(key, client_ip=outside)
        # Refused like an invalid key: one code, nothing said about the networks.
        assert caught.value.code == "token_validation_failed"
    # A key without networks validates from anywhere, and without an address.
    free = client.tokens.create_token(organization_id=org_id).token
    client.tokens.validate_token(free, client_ip="203.0.113.9")
    client.tokens.validate_token(free)

    for malformed in ["10.0.0.1:80", "10.0.0.0/8", "localhost", ""]:
        with pytest.raises(ScalekitBadRequestException) as bad:
            client.tokens.validate_token(key, client_ip=malformed)
        assert bad.value.code == "invalid_argument"

    # Each refusal is in the audit log with the caller's address (written off the request path).
    refusals = wait_for_refusals(client, org_id, 3)
    assert sorted((e.source_address or "-") for e in refusals) == ["-", "11.0.0.1", "2001:db9::1"]
    for event in refusals:
        assert event.outcome == "failure" and event.error_code == "address_not_allowed"
        assert event.target_ids == [created.token_id] and key not in str(event.to_dict())


def test_over_the_rate_limit_is_its_own_typed_error(client: ScalekitClient, org_id: str) -> None:
    fresh_day_window()
    created = client.tokens.create_token(organization_id=org_id, rate_limit=RateLimit(3, DAY))
    for _ in range(3):
        client.tokens.validate_token(created.token)
    with pytest.raises(ScalekitRateLimitedException) as caught:
        client.tokens.validate_token(created.token)
    exc = caught.value
    assert isinstance(exc, ScalekitTooManyRequestsException)
    assert not isinstance(exc, ScalekitValidateTokenFailureException)  # not a verdict on the key
    assert exc.code == "rate_limited" and exc.http_status == 429 and int(exc.grpc_status) == 8
    assert 1 <= exc.retry_after <= DAY
    assert created.token not in str(exc)
    # Still refused, still the same error; other keys are not affected.
    with pytest.raises(ScalekitRateLimitedException):
        client.tokens.validate_token(created.token)
    other = client.tokens.create_token(organization_id=org_id, rate_limit={"limit": 3, "window_seconds": DAY})
    client.tokens.validate_token(other.token)

    # Removing the limit lets the key validate again.
    updated = client.tokens.update_token(created.token_id, remove_rate_limit=True).token_info
    assert updated.rate_limit is None
    client.tokens.validate_token(created.token)


def test_update_replaces_and_removes_networks_and_limits(client: ScalekitClient, org_id: str) -> None:
    created = client.tokens.create_token(organization_id=org_id, description="kept", custom_claims={"k": "v"})
    info = client.tokens.update_token(
        created.token_id, allowed_cidrs=["192.0.2.0/24"], rate_limit={"limit": 10, "window_seconds": 1}
    ).token_info
    assert info.allowed_cidrs == ["192.0.2.0/24"] and info.rate_limit == RateLimit(10, 1)
    assert info.description == "kept" and info.custom_claims == {"k": "v"}
    with pytest.raises(ScalekitValidateTokenFailureException):
        client.tokens.validate_token(created.token, client_ip="198.51.100.1")
    client.tokens.validate_token(created.token, client_ip="192.0.2.44")
    assert [e.source_address for e in wait_for_refusals(client, org_id, 1)] == ["198.51.100.1"]

    # Only what is given changes.
    info = client.tokens.update_token(created.token, description="new").token_info
    assert info.allowed_cidrs == ["192.0.2.0/24"] and info.rate_limit == RateLimit(10, 1)

    info = client.tokens.update_token(created.token_id, remove_allowed_cidrs=True).token_info
    assert info.allowed_cidrs is None and info.rate_limit == RateLimit(10, 1)
    client.tokens.validate_token(created.token, client_ip="198.51.100.1")
    info = client.tokens.update_token(created.token_id, remove_rate_limit=True).token_info
    assert info.rate_limit is None
    assert "allowed_cidrs" not in info.to_dict() and "rate_limit" not in info.to_dict()


def test_rotation_keeps_the_networks_and_may_change_the_limit(client: ScalekitClient, org_id: str) -> None:
    old = client.tokens.create_token(
        organization_id=org_id, allowed_cidrs=["10.0.0.0/8"], rate_limit=RateLimit(5, 60)
    )
    same = client.tokens.rotate_token(old.token_id, grace_period_seconds=60)
    assert same.token_info.allowed_cidrs == ["10.0.0.0/8"] and same.token_info.rate_limit == RateLimit(5, 60)
    changed = client.tokens.rotate_token(same.token_id, grace_period_seconds=0, rate_limit={"limit": 7, "window_seconds": 10})
    assert changed.token_info.rate_limit == RateLimit(7, 10)
    assert changed.token_info.allowed_cidrs == ["10.0.0.0/8"]
    client.tokens.validate_token(changed.token, client_ip="10.0.0.1")


def test_bad_networks_and_limits_are_typed_errors_and_change_nothing(client: ScalekitClient, org_id: str) -> None:
    invalid = [
        {"allowed_cidrs": []},
        {"allowed_cidrs": ["10.0.0.1/8"]},
        {"allowed_cidrs": ["example.com"]},
        {"allowed_cidrs": [f"10.0.{i}.0/24" for i in range(51)]},
        {"rate_limit": {"limit": 0, "window_seconds": 60}},
        {"rate_limit": {"limit": 10, "window_seconds": 86_401}},
        {"rate_limit": {"limit": -1, "window_seconds": 60}},
        {"rate_limit": {"limit": 10}},
        {"rate_limit": {"limit": 10, "window_seconds": 60, "burst": 2}},
    ]
    for kwargs in invalid:
        with pytest.raises(ScalekitBadRequestException) as caught:
            client.tokens.create_token(organization_id=org_id, **kwargs)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_argument", kwargs
    with pytest.raises(ScalekitBadRequestException) as caught:
        client.tokens.create_token(organization_id=org_id, allowed_cidrs=["10.0.0.1/8"])
    assert "10.0.0.0/8" in str(caught.value)  # names the network it probably means
    for wrong_type in [{"rate_limit": 10}, {"rate_limit": {"limit": "10", "window_seconds": 60}}, {"allowed_cidrs": "10.0.0.0/8"}]:
        with pytest.raises(TypeError):
            client.tokens.create_token(organization_id=org_id, **wrong_type)  # type: ignore[arg-type]
    with pytest.raises(ScalekitBadRequestException):
        RateLimit(0, 60)
    assert client.tokens.list_tokens(organization_id=org_id).total_count == 0

    created = client.tokens.create_token(organization_id=org_id, allowed_cidrs=["10.0.0.0/8"], rate_limit=RateLimit(5, 60))
    for kwargs in [
        {"allowed_cidrs": ["10.0.0.0/8"], "remove_allowed_cidrs": True},
        {"rate_limit": RateLimit(1, 1), "remove_rate_limit": True},
        {"allowed_cidrs": ["bad"]},
        {"rate_limit": {"limit": 1, "window_seconds": 0}},
    ]:
        with pytest.raises(ScalekitBadRequestException) as caught:
            client.tokens.update_token(created.token_id, description="changed?", **kwargs)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_argument", kwargs
    info = client.tokens.list_tokens(organization_id=org_id).tokens[0]
    assert info.allowed_cidrs == ["10.0.0.0/8"] and info.rate_limit == RateLimit(5, 60) and info.description is None
    with pytest.raises(ScalekitBadRequestException):
        client.tokens.rotate_token(created.token_id, rate_limit={"limit": 0, "window_seconds": 1})
    assert client.tokens.list_tokens(organization_id=org_id, include_revoked=True).total_count == 1


def test_rate_limit_value_object() -> None:
    rate = RateLimit(limit=10, window_seconds=60)
    assert rate == RateLimit(10, 60) and rate != RateLimit(10, 61) and hash(rate) == hash(RateLimit(10, 60))
    assert rate.to_dict() == {"limit": 10, "window_seconds": 60}
    assert repr(rate) == "RateLimit(limit=10, window_seconds=60)"
    with pytest.raises(TypeError):
        RateLimit(True, 60)  # type: ignore[arg-type]
    with pytest.raises(ScalekitBadRequestException):
        RateLimit(10, 0)
