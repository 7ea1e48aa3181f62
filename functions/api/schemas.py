"""Request and response models, one per use. Store records never leave the API as they are."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from ..domain.model import Space

# User ids are LiveKit identities and appear in room and store keys: a conservative alphabet.
USER_ID_PATTERN = r"^[A-Za-z0-9_.@:\-]{1,128}$"
SPACE_ID_PATTERN = r"^[0-9a-f]{32}$"
UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class _Input(BaseModel):
    # An unknown field is a client mistake worth a 422 (e.g. trying to set `host`).
    model_config = ConfigDict(extra="forbid")


class SpaceCreate(_Input):
    title: Title
    video: Literal["off", "host", "speakers"] = "off"
    scheduled_start: AwareDatetime | None = None


class RoleUpdate(_Input):
    role: Literal["cohost", "speaker", "listener"]


class RemoveRequest(_Input):
    block: bool = False


class SpotlightUpdate(_Input):
    # Required, nullable: null unpins.
    user_id: UserId | None = Field(...)


class SpacePublic(BaseModel):
    id: str
    title: str
    state: Literal["scheduled", "live", "ended"]
    host: str
    cohosts: list[str]
    speakers: list[str]
    video: Literal["off", "host", "speakers"]
    listener_count: int
    raised_hands: list[str]
    pinned: str | None
    room_name: str
    created_at: datetime
    scheduled_start: datetime | None
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, space: Space) -> SpacePublic:
        return cls(
            id=space.id,
            title=space.title,
            state=space.state.value,
            host=space.host,
            cohosts=list(space.cohosts),
            speakers=list(space.speakers),
            video=space.video.value,
            listener_count=space.listener_count,
            raised_hands=list(space.raised_hands),
            pinned=space.pinned,
            room_name=space.room_name,
            created_at=space.created_at,
            scheduled_start=space.scheduled_start,
            started_at=space.started_at,
            ended_at=space.ended_at,
        )


class SpacePage(BaseModel):
    items: list[SpacePublic]
    # Pass back as `cursor` for the next page; null on the last page.
    cursor: str | None


class TokenResponse(BaseModel):
    url: str
    token: str
    identity: str
    role: Literal["host", "cohost", "speaker", "listener"]
    expires_at: datetime


class Problem(BaseModel):
    """Every 4xx/5xx that is not a validation error: what went wrong and which rule said so."""

    detail: str
    rule: str
