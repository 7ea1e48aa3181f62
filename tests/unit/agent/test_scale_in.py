"""ECS scale-in protection rule: on with rooms, off without, renewed before it lapses."""

from __future__ import annotations

from media_agent.scale_in import ProtectionPolicy, request_body


def test_protection_follows_the_room_count() -> None:
    policy = ProtectionPolicy(expires_min=60, renew_before_s=600)
    assert policy.decide(0, 0.0) is False  # state unknown at start: say so explicitly
    policy.applied(False, 0.0)
    assert policy.decide(0, 5.0) is None
    assert policy.decide(2, 10.0) is True
    policy.applied(True, 10.0)
    assert policy.decide(3, 20.0) is None
    assert policy.decide(0, 30.0) is False


def test_protection_is_renewed_before_it_expires() -> None:
    policy = ProtectionPolicy(expires_min=60, renew_before_s=600)
    policy.applied(True, 0.0)
    assert policy.decide(1, 3600 - 601) is None
    assert policy.decide(1, 3600 - 600) is True


def test_a_failed_request_is_retried() -> None:
    policy = ProtectionPolicy()
    assert policy.decide(1, 0.0) is True  # not applied (request failed) ...
    assert policy.decide(1, 5.0) is True  # ... so it is asked again


def test_request_bodies_match_the_ecs_agent_api() -> None:
    assert request_body(True, 60) == {"ProtectionEnabled": True, "ExpiresInMinutes": 60}
    assert request_body(False) == {"ProtectionEnabled": False}
