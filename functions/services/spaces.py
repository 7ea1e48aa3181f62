"""The use cases: load -> pure rule (domain/) -> store -> SFU. Routes call these and nothing else.

Order of effects, so that a failed request changes nothing:
- start/end: check the rule, ask the SFU, then store. If the SFU refuses, nothing was stored.
- role changes, remove, pin: store first (the store's compare-and-set enforces limits under
  concurrency), then the SFU; if the SFU refuses, the stored change is undone and the caller gets 502.
The store is synchronous (sqlite3, boto3); async use cases run it in the thread pool.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from ..core.config import Settings
from ..domain import broadcast, grants, lifecycle, pushed, stage
from ..domain.broadcast import JoinMode
from ..domain.errors import Conflict, DomainError, NotFound
from ..domain.model import Role, Space, SpaceState, VideoPolicy, space_id_from_room
from ..media import tokens
from ..media.gateway import GatewayError, RoomGateway
from ..media.webhooks import WebhookFacts
from ..store.base import Change, IdempotencyKey, Page, SpaceStore

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JoinGrant:
    """Join the room over WebRTC."""

    url: str
    token: str
    identity: str
    role: Role
    expires_at: datetime


@dataclass(frozen=True)
class BroadcastGrant:
    """Watch the HLS broadcast: the room's WebRTC audience is full."""

    playlist_url: str
    identity: str
    role: Role


class SpaceService:
    def __init__(
        self,
        *,
        store: SpaceStore,
        gateway: RoomGateway,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.settings = settings
        self.limits = settings.limits
        self.broadcast = settings.broadcast
        self.clock = clock

    # --- reads and simple writes: sync (thread pool; `join` runs on the loop, see routes/tokens.py)
    def create(
        self,
        *,
        actor: str,
        title: str,
        video: VideoPolicy,
        scheduled_start: datetime | None,
        idempotency_key: str | None,
    ) -> Space:
        space = lifecycle.new_space(
            space_id=uuid.uuid4().hex,
            title=title,
            host=actor,
            video=video,
            now=self.clock(),
            scheduled_start=scheduled_start,
        )
        key = None
        if idempotency_key is not None:
            asked = json.dumps([title, video.value, scheduled_start.isoformat() if scheduled_start else None])
            key = IdempotencyKey(
                owner=actor, key=idempotency_key, fingerprint=hashlib.sha256(asked.encode()).hexdigest()
            )
        return self.store.create(space, idempotency=key)

    def get(self, space_id: str) -> Space:
        return self.store.require(space_id)

    def discover(self, *, state: SpaceState, limit: int, cursor: str | None) -> Page:
        return self.store.list(state, limit=limit, cursor=cursor)

    def join(self, *, actor: str, space_id: str) -> JoinGrant | BroadcastGrant:
        # Only the caller's own block/hand records are read: one round trip, whatever the Space's size.
        space = self.store.require(space_id, member=actor)
        role = stage.join_role(space, user=actor)
        mode = broadcast.join_mode(role, listener_count=space.listener_count, policy=self.broadcast)
        if mode is JoinMode.HLS and self.broadcast.base_url is not None:
            links = broadcast.links(self.broadcast.base_url, space.id)
            return BroadcastGrant(playlist_url=links.playlist_url, identity=actor, role=role)
        creds = self.settings.livekit_credentials()
        minted = tokens.mint(
            api_key=creds.api_key,
            api_secret=creds.api_secret,
            room=space.room_name,
            identity=actor,
            permission=grants.permission_for(role, space.video),
            attributes=grants.participant_attributes(role),
            ttl=timedelta(seconds=self.settings.token_ttl_seconds),
            now=self.clock(),
        )
        return JoinGrant(
            url=self.settings.client_livekit_url,
            token=minted.token,
            identity=actor,
            role=role,
            expires_at=minted.expires_at,
        )

    async def raise_hand(self, *, actor: str, space_id: str) -> Space:
        change = await run_in_threadpool(
            self.store.update, space_id, lambda s: stage.raise_hand(s, user=actor, limits=self.limits)
        )
        await self._push(change.before, change.after)
        return change.after

    async def lower_hand(self, *, actor: str, space_id: str) -> Space:
        change = await run_in_threadpool(
            self.store.update, space_id, lambda s: stage.lower_hand(s, user=actor)
        )
        await self._push(change.before, change.after)
        return change.after

    async def _push_hands(self, before: Space, after: Space) -> None:
        """Only the hands part of `_push` (the metadata went with the SFU calls)."""
        if after.state is SpaceState.LIVE and (
            before.raised_hands != after.raised_hands or pushed.moderators(before) != pushed.moderators(after)
        ):
            try:
                await self.gateway.send_hands(after)
            except GatewayError as exc:
                log.warning("could not push the hands of %s: %s", after.id, exc)

    async def _push(self, before: Space | None, after: Space) -> None:
        """Tell the room what viewers would otherwise poll for (functions/domain/pushed.py): the
        room metadata to everyone, the raised hands to the host and co-hosts. Best effort: the store
        already holds the change, a later push carries it too, and a page fetches the Space on every
        (re)connect; a failed push is logged, never undone. The reconciler (issue 9 item 2) takes
        over when and how often these are sent."""
        if after.state is not SpaceState.LIVE:
            return
        try:
            if before is None or pushed.metadata_changed(before, after):
                await self.gateway.set_room_metadata(after)
            if (
                before is None
                or pushed.raised_hands(before).hands != after.raised_hands
                or (pushed.moderators(before) != pushed.moderators(after))
            ):
                await self.gateway.send_hands(after)
        except GatewayError as exc:
            log.warning("could not push the state of %s to its room: %s", after.id, exc)

    # --- changes the SFU must follow ------------------------------------------------------------
    async def start(self, *, actor: str, space_id: str) -> Space:
        current = await run_in_threadpool(self.store.require, space_id)
        now = self.clock()
        live = lifecycle.start(current, actor=actor, now=now)
        await self.gateway.create_room(live, agents=broadcast.agents_for(self.broadcast))
        change = await run_in_threadpool(
            self.store.update, space_id, lambda s: lifecycle.start(s, actor=actor, now=now)
        )
        return change.after

    async def end(self, *, actor: str, space_id: str) -> Space:
        current = await run_in_threadpool(self.store.require, space_id)
        lifecycle.end(current, actor=actor, now=self.clock())
        if current.state is SpaceState.LIVE:
            await self.gateway.delete_room(current.room_name)
        now = self.clock()

        def ended(s: Space) -> Space:
            # Deleting the room makes the SFU send room_finished, which may end the Space first.
            return s if s.state is SpaceState.ENDED else lifecycle.end(s, actor=actor, now=now)

        change = await run_in_threadpool(self.store.update, space_id, ended)
        return change.after

    async def change_role(self, *, actor: str, space_id: str, target: str, role: Role) -> Space:
        change = await run_in_threadpool(
            self.store.update,
            space_id,
            lambda s: stage.change_role(s, actor=actor, target=target, role=role, limits=self.limits),
        )
        if not change.changed or change.after.state is not SpaceState.LIVE:
            return change.after
        after = change.after
        try:
            connected = await self.gateway.update_participant(
                after.room_name, target, role=role, permission=grants.permission_for(role, after.video)
            )
            if pushed.metadata_changed(change.before, after):
                await self.gateway.set_room_metadata(after)
        except GatewayError:
            await self._undo(space_id, change, target)
            raise
        await self._push_hands(change.before, after)
        if connected:
            was_listener = change.before.role_of(target) is Role.LISTENER
            await self._follow_audience(space_id, was_listener=was_listener, now=role)
        return after

    async def remove(self, *, actor: str, space_id: str, target: str, block: bool) -> Space:
        change = await run_in_threadpool(
            self.store.update,
            space_id,
            lambda s: stage.remove(s, actor=actor, target=target, block=block, limits=self.limits),
        )
        if change.after.state is SpaceState.LIVE:
            try:
                await self.gateway.remove_participant(change.after.room_name, target)
                if pushed.metadata_changed(change.before, change.after):
                    await self.gateway.set_room_metadata(change.after)
            except GatewayError:
                await self._undo(space_id, change, target)
                raise
            await self._push_hands(change.before, change.after)
        return change.after

    async def mute(self, *, actor: str, space_id: str, target: str) -> Space:
        space = await run_in_threadpool(self.store.require, space_id)
        stage.authorize_mute(space, actor=actor, target=target)
        if not await self.gateway.mute_microphone(space.room_name, target):
            raise Conflict("not_connected", f"{target} is not connected to the Space")
        return space

    async def pin(self, *, actor: str, space_id: str, target: str | None) -> Space:
        change = await run_in_threadpool(
            self.store.update, space_id, lambda s: stage.pin(s, actor=actor, target=target)
        )
        if change.changed and change.after.state is SpaceState.LIVE:
            try:
                # The agent learns the pin from the room metadata (the contract), not from us.
                await self.gateway.set_room_metadata(change.after)
            except GatewayError:
                await run_in_threadpool(
                    self.store.update, space_id, lambda s: s.replace(pinned=change.before.pinned)
                )
                raise
        return change.after

    async def _undo(self, space_id: str, change: Change, target: str) -> None:
        try:
            await run_in_threadpool(
                self.store.update,
                space_id,
                lambda s: stage.restore_member(s, before=change.before, user=target),
            )
        except DomainError:
            log.exception("could not undo the change to %s in %s", target, space_id)

    # --- webhooks -------------------------------------------------------------------------------
    async def handle_webhook(self, facts: WebhookFacts) -> str:
        """Apply one verified webhook at most once; hold every participant to the stored Space.

        Join tokens cannot be revoked and live up to the token TTL, and the SFU refreshes a connected
        session's token with the grants it joined with, so someone blocked or demoted could keep or
        regain a stage with an old token. Every join is therefore checked against the stored Space (a
        blocked user is removed again, a stale role is corrected live), and so is every published
        track: webhooks are best effort, and a missed join correction must not leave a listener
        publishing."""
        outcome = await run_in_threadpool(self.apply_webhook, facts)
        space_id = space_id_from_room(facts.room_name)
        if outcome == "counted" and space_id is not None:
            await self._push_count(space_id, joined=facts.event == "participant_joined")
        if facts.event == "participant_left" and facts.is_agent and space_id is not None:
            return await self._redispatch_agent(space_id, facts)
        if facts.event not in ("participant_joined", "track_published"):
            return outcome
        if facts.is_agent or not facts.identity or space_id is None:
            return outcome
        space = await run_in_threadpool(lambda: self.store.get(space_id, member=facts.identity))
        if space is None or space.state is not SpaceState.LIVE:
            return outcome
        if facts.identity in space.blocked:
            await self.gateway.remove_participant(space.room_name, facts.identity)
            return f"{outcome}; blocked user removed"
        stored = space.role_of(facts.identity)
        permission = grants.permission_for(stored, space.video)
        stale_role = facts.role != stored.value
        # The SFU unpublishes every track the applied permission does not allow (SetPermission).
        disallowed_track = facts.event == "track_published" and facts.track_source not in permission.sources
        if stale_role or disallowed_track:
            connected = await self.gateway.update_participant(
                space.room_name, facts.identity, role=stored, permission=permission
            )
            if connected and stale_role:
                await self._follow_audience(
                    space_id, was_listener=facts.role == Role.LISTENER.value, now=stored
                )
            return f"{outcome}; {facts.role} participant held to the stored {stored.value} permission"
        return outcome

    async def _redispatch_agent(self, space_id: str, facts: WebhookFacts) -> str:
        """One of the Space's agents (the stage agent, or the broadcast composer) left a live room: it
        crashed or its worker died. livekit-server does not re-dispatch by itself, so the control
        plane asks for a new agent of the same name (a stage agent continues the stage's sequence,
        see media_agent/stage.py; a composer continues the playlist). An agent leaving an ending room
        is not replaced, nor one that leaves while another agent of its name is still in the room,
        nor an agent the Space does not run (unknown name, or the composer with broadcasting off)."""
        agent_name = facts.agent_name
        if agent_name not in broadcast.agents_for(self.broadcast):
            return f"agent {agent_name or '(unnamed)'} left; not one this Space runs"
        space = await run_in_threadpool(self.store.get, space_id)
        if space is None or space.state is not SpaceState.LIVE:
            return "agent left an ended Space"
        if not await run_in_threadpool(self.store.claim_event, facts.id):
            return "duplicate"
        try:
            # A starting agent evicts older ones of its kind (media_agent), and every eviction is a
            # departure: dispatching while another one is still in the room would churn forever.
            # Agents of the other name do not count: the composer never replaces the stage agent.
            present = await self.gateway.list_participants(space.room_name)
            if any(p.agent_name == agent_name and p.identity != facts.identity for p in present):
                return f"agent {agent_name} left; another one is still in the room"
            dispatched = await self.gateway.dispatch_agent(space.room_name, agent_name)
        except GatewayError as exc:
            # Also what an `end` racing this webhook looks like (the room is already deleted). A
            # failed re-dispatch is not retried: clients keep the last stage they were sent.
            log.warning("could not re-dispatch %s into %s: %s", agent_name, space.room_name, exc)
            return f"agent {agent_name} left; re-dispatch failed"
        return f"agent {agent_name} re-dispatched" if dispatched else "agent left a closed room"

    def apply_webhook(self, facts: WebhookFacts) -> str:
        """The stored effects of a webhook (counts, the end of a Space). Returns what was done."""
        space_id = space_id_from_room(facts.room_name)
        if space_id is None:
            return "ignored: not a Space room"
        if facts.event == "room_finished":
            now = self.clock()
            try:
                self.store.update(space_id, lambda s: lifecycle.room_closed(s, now=now))
            except NotFound:
                return "ignored: unknown Space"
            self.store.claim_event(facts.id)
            return "space ended"
        if facts.event in ("participant_joined", "participant_left"):
            # Agents and stage members are not audience; only listener joins and leaves are counted.
            if facts.is_agent or facts.role != Role.LISTENER.value:
                return "ignored: not a listener"
            delta = 1 if facts.event == "participant_joined" else -1
            applied = self.store.adjust_listeners(space_id, delta, event_id=facts.id)
            return "counted" if applied else "duplicate"
        return f"ignored: {facts.event}"

    async def _push_count(self, space_id: str, *, joined: bool) -> None:
        """A listener joined or left: push the metadata only if the count viewers see changed
        (it is rounded when large, so most joins in a big audience push nothing)."""
        after = await run_in_threadpool(self.store.get, space_id)
        if after is None:
            return
        before = after.replace(listener_count=max(after.listener_count + (-1 if joined else 1), 0))
        await self._push(before, after)

    async def _follow_audience(self, space_id: str, *, was_listener: bool, now: Role) -> None:
        """A connected person moved between audience and stage without a join/leave webhook (their
        role attribute changed live): keep the listener count in step."""
        if was_listener != (now is Role.LISTENER):
            await run_in_threadpool(self.store.adjust_listeners, space_id, 1 if now is Role.LISTENER else -1)
