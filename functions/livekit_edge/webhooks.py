"""Verify a webhook from the SFU and reduce it to the facts the control plane acts on."""

from __future__ import annotations

from dataclasses import dataclass

from contract import names

from ..core.config import LiveKitCredentials
from .sources import source_name


class InvalidWebhook(Exception):
    pass


@dataclass(frozen=True)
class WebhookFacts:
    id: str
    event: str
    room_name: str
    identity: str | None = None
    # The role attribute the participant had when the event fired (None for agents/unknown).
    role: str | None = None
    is_agent: bool = False
    # Agents only: the name the agent was dispatched under (livekit-agents' `lk.agent.name`).
    agent_name: str | None = None
    # track_published: the published track's source in grants' names ("microphone", "camera",
    # "screen_share": each the SFU's lower-cased enum name), also for sources no role is granted.
    track_source: str | None = None
    # When the participant connected (epoch ms; None if the event does not say).
    joined_at_ms: int | None = None
    # A WebRTC listener's seat attribute, as their token set it (names.SEAT_ATTRIBUTE).
    seat: str | None = None
    # When the participant's token was issued (names.ISSUED_AT_ATTRIBUTE, the raw text).
    issued_at: str | None = None
    # participant_left: a newer session of the same identity took this one's place (the SFU's
    # DUPLICATE_IDENTITY, also what it gives a stale session): the person is still in the room.
    replaced: bool = False


def verify(body: bytes, authorization: str | None, creds: LiveKitCredentials) -> WebhookFacts:
    from livekit import api

    if not authorization:
        raise InvalidWebhook("missing Authorization header")
    receiver = api.WebhookReceiver(api.TokenVerifier(creds.api_key, creds.api_secret))
    try:
        # The signature covers the exact bytes sent: verify over the raw body, never a re-encoding.
        event = receiver.receive(body.decode("utf-8"), authorization)
    except Exception as exc:  # noqa: BLE001 - the receiver raises bare Exception, jwt errors and parse errors
        raise InvalidWebhook(f"webhook rejected: {exc}") from exc
    if not event.id:
        # Every event livekit-server sends has one, and each is applied once by it: events without
        # one would all be "the same event" (the first counted, every later one a duplicate).
        raise InvalidWebhook("webhook rejected: the event has no id")
    participant = event.participant if event.HasField("participant") else None
    is_agent = bool(participant and participant.kind == api.ParticipantInfo.Kind.AGENT)
    return WebhookFacts(
        id=event.id,
        event=event.event,
        room_name=event.room.name if event.HasField("room") else "",
        identity=participant.identity if participant else None,
        role=participant.attributes.get(names.ROLE_ATTRIBUTE) if participant else None,
        is_agent=is_agent,
        agent_name=participant.attributes.get(names.AGENT_NAME_ATTRIBUTE)
        if participant and is_agent
        else None,
        track_source=source_name(event.track.source) if event.HasField("track") else None,
        joined_at_ms=_joined_at_ms(participant) if participant else None,
        seat=participant.attributes.get(names.SEAT_ATTRIBUTE) if participant else None,
        issued_at=participant.attributes.get(names.ISSUED_AT_ATTRIBUTE) if participant else None,
        replaced=participant is not None
        and participant.disconnect_reason == api.DisconnectReason.DUPLICATE_IDENTITY,
    )


# Epoch milliseconds a join time can be: after 2000 and before the year 10000 (what a datetime
# holds). A signed event beyond them is not the SFU's clock; its time is ignored, as an absent one is.
_JOINED_AT_MS_RANGE = range(946_684_800_000, 253_402_300_800_000)


def _joined_at_ms(participant: object) -> int | None:
    ms = int(getattr(participant, "joined_at_ms", 0) or 0)
    if not ms:
        seconds = int(getattr(participant, "joined_at", 0) or 0)
        # Whole seconds: the end of that second, so an entry written in it still counts as before.
        ms = seconds * 1000 + 999 if seconds else 0
    return ms if ms in _JOINED_AT_MS_RANGE else None
