"""The media agent: one job per live Space, deciding the spotlight and publishing the stage.

It joins as an agent participant, subscribes to nothing but speakers' microphones (camera state
comes from publication and mute events, so no video is ever received or decoded), feeds decoded
16 kHz mono frames to the spotlight engine, and publishes the engine's state as the `stage`
participant attribute plus a `get_stage` RPC for late joiners.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import api, rtc
from livekit.agents import AgentServer, AutoSubscribe, JobContext, WorkerPermissions
from livekit.rtc.room import EventTypes

from contract import names
from contract.room_metadata import RoomMetadata, parse_room_metadata
from contract.stage import StageState
from media_agent import deployment, ecs_task
from media_agent import stage as stage_rules
from media_agent.audio import MicStreams
from media_agent.load import WorkerLoad, max_rooms
from media_agent.spotlight import EngineConfig, SpotlightEngine
from media_agent.subscriptions import Resubscriber

logger = logging.getLogger("media_agent")

# The engine gets 16 kHz mono: speech detection needs nothing above 8 kHz, and resampling in the
# SDK's native code is cheaper than carrying 48 kHz through Python.
SAMPLE_RATE = 16000
# One Python wake-up per FRAME_MS of audio per track: smaller frames multiply the per-frame
# overhead (bench/agent/live_cost.py), larger ones add their length to the switch latency.
FRAME_MS_ENV = "SPACES_AGENT_FRAME_MS"
FRAME_MS = int(os.environ.get(FRAME_MS_ENV, "20"))
# Each track's frames are stamped on its own audio timeline (previous stamp + frame length), so
# small arrival jitter does not tear the engine's view of the signal. The timeline may run behind
# the arrival clock by at most RESYNC_BEHIND_S (the engine judges "talking now" against the
# present, so a lagging timeline would read as silence) and ahead of it by RESYNC_AHEAD_S (a burst
# after a stall); beyond either it re-anchors to the arrival time.
RESYNC_BEHIND_S = 0.03
RESYNC_AHEAD_S = 0.25
# The engine is asked to decide this often (one call per room, whatever the number of tracks).
ADVANCE_INTERVAL_S = 0.04
# An engine that fails every pass this long ends the job (the reconciler dispatches a fresh agent).
ENGINE_FAILING_S = 5.0
# A stage publish the SDK refused is tried again after this long.
PUBLISH_RETRY_S = 1.0
# Tasks without which the stage freezes: if one ends with an error, the job ends.
ESSENTIAL_TASKS = ("advance-", "publish-")

# The agents SDK serves health and /worker (active job count) on this port. Nothing in ECS probes
# it (the task definition has no container health check); the tests and benchmarks read it.
HTTP_PORT_ENV = names.ENV_AGENT_HTTP_PORT
DEFAULT_HTTP_PORT = 8081
# Idle job processes kept warm so a dispatch does not wait for a process start.
IDLE_PROCESSES_ENV = "SPACES_AGENT_IDLE_PROCESSES"
# When set (seconds), every room logs its cost counters this often (used by bench/agent).
STATS_INTERVAL_ENV = "SPACES_AGENT_STATS_S"

# On SIGTERM the worker stops taking rooms and waits this long for its rooms to end.
DRAIN_TIMEOUT_S = 3600

SPEAKER_SOURCES = (rtc.TrackSource.SOURCE_MICROPHONE,)
CAMERA_SOURCES = (rtc.TrackSource.SOURCE_CAMERA,)
# Like cameras, only their published/muted state matters here: the agent never subscribes to video.
SCREEN_SOURCES = (rtc.TrackSource.SOURCE_SCREENSHARE,)


@dataclass
class Cost:
    """Where this room's CPU goes: thread CPU time of the synchronous engine and publishing steps.

    Thread time, not wall time, so a busy machine does not inflate it. Decoding is not here: it
    runs in the SDK's native threads (bench/agent/live_cost.py reads those from /proc).
    """

    frames: int = 0
    engine_s: float = 0.0
    publish_s: float = 0.0
    publishes: int = 0
    # Python's garbage collector, wherever it happened to run (it is taken out of engine_s).
    gc_s: float = 0.0
    _gc_started: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "engine_s": round(self.engine_s, 4),
            "gc_s": round(self.gc_s, 4),
            "publish_s": round(self.publish_s, 4),
            "publishes": self.publishes,
        }

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self.gc_s += time.thread_time() - self._gc_started

    def timed_engine(self, started: float, gc_before: float) -> None:
        self.engine_s += time.thread_time() - started - (self.gc_s - gc_before)


Evict = Callable[[str], Awaitable[None]]


class RoomStage:
    """The agent in one room: room events and audio in, stage attribute and RPC out."""

    def __init__(
        self,
        room: rtc.Room,
        *,
        engine: SpotlightEngine | None = None,
        evict: Evict | None = None,
        stand_down: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """`stand_down(reason)` ends this agent's job: called when it comes back from a lost
        connection to find another stage agent publishing the stage (dispatched while it was away),
        and when the stage would freeze (an engine failing every pass, a decide/publish task dead)."""
        self._room = room
        self._engine = engine or SpotlightEngine(EngineConfig())
        self._evict = evict
        self._stand_down = stand_down
        self._clock = clock
        self._wall_clock = wall_clock
        self._seq = stage_rules.SeqClock(wall_clock)
        self._gate = stage_rules.PublishGate()
        self._carried: stage_rules.Carried | None = None
        self._payload: str | None = None
        self._dirty = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._mics: MicStreams | None = None
        self._mic_owner: dict[str, str] = {}  # microphone track sid -> speaker identity
        self._resubscribe = Resubscriber(self._spawn, self._sync_stage)
        # Microphone publication sids asked for (`publication.subscribed` changes only when the
        # SFU answers, so a request withdrawn and made again before that would otherwise be lost).
        self._mic_wanted: set[str] = set()
        self._next_t: dict[str, float] = {}  # microphone track sid -> where its next frame starts
        self._handlers: list[tuple[EventTypes, Callable[..., Any]]] = []
        self._rpc_registered = False
        self._closed = False
        # Only the microphones of the stage members it names are heard (RoomMetadata.may_speak).
        self._metadata: RoomMetadata = parse_room_metadata(room.metadata)
        self.cost = Cost()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._take_over_from_predecessors()
        self._mics = MicStreams(self._on_frame, sample_rate=SAMPLE_RATE, frame_ms=FRAME_MS)
        self._on("participant_disconnected", self._participant_disconnected)
        self._on("track_published", self._track_published)
        self._on("track_unpublished", self._track_unpublished)
        self._on("track_subscribed", self._track_subscribed)
        self._on("track_unsubscribed", self._track_unsubscribed)
        self._on("track_subscription_failed", self._subscription_failed)
        self._on("track_muted", self._track_muted)
        self._on("track_unmuted", self._track_unmuted)
        self._on("room_metadata_changed", self._room_metadata_changed)
        self._on("reconnected", self._reconnected)

        now = self._clock()
        # Read again now that the handlers are on: a change during the evictions is not missed.
        self._metadata = parse_room_metadata(self._room.metadata)
        self._set_pin(self._room.metadata, now)
        for participant in self._room.remote_participants.values():
            for publication in participant.track_publications.values():
                self._track_published(publication, participant)
        self._engine.advance(self._clock())

        # The first stage goes out before the RPC answers, so both always agree.
        await self._publish_now()
        self._room.local_participant.register_rpc_method(names.STAGE_RPC_METHOD, self._get_stage)
        self._rpc_registered = True

        self._spawn(self._advance_loop(), "advance")
        self._spawn(self._publish_loop(), "publish")
        stats_every = os.environ.get(STATS_INTERVAL_ENV)
        if stats_every:
            gc.callbacks.append(self.cost.on_gc)
            self._spawn(self._stats_loop(float(stats_every)), "stats")

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for event, handler in self._handlers:
            self._room.off(event, handler)
        self._handlers.clear()
        if self.cost.on_gc in gc.callbacks:
            gc.callbacks.remove(self.cost.on_gc)
        if self._rpc_registered:
            try:
                self._room.local_participant.unregister_rpc_method(names.STAGE_RPC_METHOD)
            except Exception:  # the room may already be gone; nothing left to unregister from
                logger.debug("unregister_rpc_method failed", exc_info=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._mics is not None:
            await self._mics.aclose()
        self._mic_owner.clear()
        logger.info("room closed", extra={"room": self._room.name, "cost": self.cost.as_dict()})

    @property
    def payload(self) -> str | None:
        """The stage JSON last published (what `get_stage` answers)."""
        return self._payload

    # -- restart ----------------------------------------------------------------------------------

    async def _take_over_from_predecessors(self) -> None:
        """Continue the seq of an agent that ran here before, keep its spotlight, and remove it.

        A killed agent's participant lingers until the SFU times it out; two agents publishing two
        stages would leave clients choosing. The newest agent owns the stage, so it evicts the rest.
        """
        best: StageState | None = None
        for participant in list(self._room.remote_participants.values()):
            if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                continue
            previous = stage_rules.parse_stage(participant.attributes.get(names.STAGE_ATTRIBUTE))
            if previous is None:
                continue
            self._seq.observe(previous.seq)
            if best is None or previous.seq > best.seq:
                best = previous
            if self._evict is not None:
                logger.info("evicting previous stage agent", extra={"identity": participant.identity})
                try:
                    await self._evict(participant.identity)
                except Exception:  # it may have left on its own meanwhile
                    logger.warning("could not evict %s", participant.identity, exc_info=True)
        if best is not None:
            self._carried = stage_rules.Carried(
                spotlight=best.spotlight, video_spotlight=best.video_spotlight
            )
            logger.info("continuing stage", extra={"seq": best.seq, "spotlight": best.spotlight})

    # -- room events ------------------------------------------------------------------------------

    def _on(self, event: EventTypes, handler: Callable[..., Any]) -> None:
        self._room.on(event, handler)
        self._handlers.append((event, handler))

    def _participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        self._engine.remove(participant.identity, self._clock())
        self._dirty.set()

    def _track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            return
        if not self._metadata.may_speak(participant.identity):
            return  # taken into account if the metadata puts them on stage later (_sync_stage)
        if publication.source in SPEAKER_SOURCES:
            self._engine.set_muted(participant.identity, self._clock(), publication.muted)
            self._mic_wanted.add(publication.sid)
            publication.set_subscribed(True)
        elif publication.source in CAMERA_SOURCES:
            self._engine.set_video(participant.identity, self._clock(), not publication.muted)
        elif publication.source in SCREEN_SOURCES:
            self._engine.set_screen(participant.identity, self._clock(), not publication.muted)

    def _track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if publication.source in SPEAKER_SOURCES:
            self._mic_wanted.discard(publication.sid)
            self._stop_reader(publication.sid)
            if self._metadata.may_speak(participant.identity):
                self._engine.set_muted(participant.identity, self._clock(), True)
        elif publication.source in CAMERA_SOURCES:
            self._engine.set_video(participant.identity, self._clock(), False)
        elif publication.source in SCREEN_SOURCES:
            self._engine.set_screen(participant.identity, self._clock(), False)

    def _track_subscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if publication.source not in SPEAKER_SOURCES or track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        assert self._mics is not None
        if publication.sid not in self._mic_wanted:
            publication.set_subscribed(False)  # left the stage while the answer was on its way
            return
        self._mic_owner[publication.sid] = participant.identity
        self._mics.open(publication.sid, track)

    def _track_unsubscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        self._stop_reader(publication.sid)
        self._lost(publication.sid)

    def _subscription_failed(self, participant: rtc.RemoteParticipant, track_sid: str, error: str) -> None:
        logger.warning(
            "room %s: subscribing to %s of %s failed: %s",
            self._room.name,
            track_sid,
            participant.identity,
            error,
        )
        self._lost(track_sid)

    def _lost(self, sid: str) -> None:
        """A microphone dropped or refused without our asking: asked for again shortly by
        `_sync_stage`, which requests every stage microphone not held (media_agent/subscriptions.py)."""
        self._resubscribe.lost(sid, self._mic_wanted)

    def _track_muted(self, participant: rtc.Participant, publication: rtc.TrackPublication) -> None:
        self._mute_changed(participant, publication, True)

    def _track_unmuted(self, participant: rtc.Participant, publication: rtc.TrackPublication) -> None:
        self._mute_changed(participant, publication, False)

    def _mute_changed(
        self, participant: rtc.Participant, publication: rtc.TrackPublication, muted: bool
    ) -> None:
        if participant is self._room.local_participant or not self._metadata.may_speak(participant.identity):
            return  # off the stage: the engine does not know them (_sync_stage)
        if publication.source in SPEAKER_SOURCES:
            self._engine.set_muted(participant.identity, self._clock(), muted)
        elif publication.source in CAMERA_SOURCES:
            self._engine.set_video(participant.identity, self._clock(), not muted)
        elif publication.source in SCREEN_SOURCES:
            self._engine.set_screen(participant.identity, self._clock(), not muted)

    def _room_metadata_changed(self, old: str, new: str) -> None:
        self._metadata = parse_room_metadata(new)
        self._sync_stage()
        self._set_pin(new, self._clock())

    def _reconnected(self) -> None:
        """A change made while the connection was away may not have been delivered: take the
        room's own metadata again, and publish the stage once more (an attribute update sent
        during the outage may be lost)."""
        successor = next(
            (p.identity for p in self._room.remote_participants.values() if self._newer(p)), None
        )
        if successor is not None and self._stand_down is not None:
            # Away long enough for the SFU to drop it, and the control plane dispatched another agent,
            # which owns the stage now: two would publish two stages and clients would flip between them.
            logger.warning("another stage agent runs this room; standing down", extra={"agent": successor})
            self._stand_down(f"stage agent {successor} took over while this one was away")
            return
        metadata = self._room.metadata
        self._metadata = parse_room_metadata(metadata)
        self._sync_stage()
        self._set_pin(metadata, self._clock())
        self._gate.forget()

    def _newer(self, participant: rtc.RemoteParticipant) -> bool:
        """Whether `participant` is another stage agent that has published past this one's seq: the
        one that went on while this one was away. Two agents back from one outage together stand
        down only in one direction, so one of them stays."""
        if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            return False
        stage = stage_rules.parse_stage(participant.attributes.get(names.STAGE_ATTRIBUTE))
        return stage is not None and stage.seq > self._seq.last

    def _sync_stage(self) -> None:
        """Hold the stage members' microphones, cameras and screens only. Someone moved off the
        stage falls silent and leaves the engine: they lose the spotlight, are never its fallback,
        and their camera is neither in `video_on` nor the big tile (a grant not revoked yet, an old
        token). Someone put on the stage brings the tracks they already publish."""
        now = self._clock()
        for participant in self._room.remote_participants.values():
            if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                continue
            identity = participant.identity
            on_stage = self._metadata.may_speak(identity)
            for publication in participant.track_publications.values():
                if publication.source in SPEAKER_SOURCES:
                    self._sync_microphone(identity, publication, on_stage, now)
                elif not on_stage:
                    continue
                elif publication.source in CAMERA_SOURCES:
                    self._engine.set_video(identity, now, not publication.muted)
                elif publication.source in SCREEN_SOURCES:
                    self._engine.set_screen(identity, now, not publication.muted)
            if not on_stage:
                self._engine.remove(identity, now)
        self._dirty.set()

    def _sync_microphone(
        self, identity: str, publication: rtc.RemoteTrackPublication, on_stage: bool, now: float
    ) -> None:
        if (publication.sid in self._mic_wanted) == on_stage:
            return
        if on_stage:
            self._engine.set_muted(identity, now, publication.muted)
            self._mic_wanted.add(publication.sid)
            publication.set_subscribed(True)
        else:
            self._mic_wanted.discard(publication.sid)
            publication.set_subscribed(False)
            self._stop_reader(publication.sid)

    def _set_pin(self, metadata: str | None, now: float) -> None:
        pinned, source = stage_rules.parse_pin(metadata), stage_rules.parse_pinned_source(metadata)
        self._engine.set_pin(pinned, now, source)

    def _stop_reader(self, sid: str) -> None:
        self._next_t.pop(sid, None)
        if self._mic_owner.pop(sid, None) is not None and self._mics is not None:
            self._mics.close(sid)

    # -- audio ------------------------------------------------------------------------------------

    def _on_frame(self, sid: str, pcm: np.ndarray, sample_rate: int) -> None:
        identity = self._mic_owner.get(sid)
        if identity is None:
            return
        cost = self.cost
        started, gc_before = time.thread_time(), cost.gc_s
        duration = len(pcm) / sample_rate
        arrived_start = self._clock() - duration  # the frame has just arrived whole
        t = self._next_t.get(sid)
        if t is None or not -RESYNC_AHEAD_S <= arrived_start - t <= RESYNC_BEHIND_S:
            t = arrived_start
        self._next_t[sid] = t + duration
        self._engine.push_audio(identity, t, pcm, sample_rate)
        cost.timed_engine(started, gc_before)
        cost.frames += 1

    # -- deciding and publishing ------------------------------------------------------------------

    async def _advance_loop(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(ADVANCE_INTERVAL_S)
            started, gc_before = time.thread_time(), self.cost.gc_s
            try:
                changed = self._engine.advance(self._clock())
            except Exception:
                # One bad pass must not freeze the stage for the rest of the Space; one that keeps
                # failing ends the job, so the reconciler dispatches a fresh agent.
                failures += 1
                if failures == 1:
                    logger.exception("room %s: the spotlight engine failed a pass", self._room.name)
                if failures * ADVANCE_INTERVAL_S >= ENGINE_FAILING_S:
                    self._give_up(f"the spotlight engine failed every pass for {ENGINE_FAILING_S:g} s")
                    return
                continue
            failures = 0
            self.cost.timed_engine(started, gc_before)
            if changed is not None:
                self._dirty.set()

    def _compose(self) -> dict[str, Any]:
        stage = stage_rules.normalize(self._engine.state.to_dict())
        if self._carried is not None:
            if stage["spotlight"] is not None:
                self._carried = None  # the engine has its own opinion now
            else:
                present = {i for i in self._room.remote_participants if self._metadata.may_speak(i)}
                stage = stage_rules.apply_carried(stage, self._carried, present)
        return stage

    async def _publish_now(self) -> None:
        now = self._clock()
        stage = self._compose()
        await self._publish(stage, now)

    async def _publish(self, stage: dict[str, Any], now: float) -> None:
        started = time.thread_time()
        payload = stage_rules.encode(stage, self._seq.next(), self._wall_clock())
        self._payload = payload
        self._gate.mark(stage, now)
        request = self._room.local_participant.set_attributes({names.STAGE_ATTRIBUTE: payload})
        self.cost.publish_s += time.thread_time() - started  # the wait for the SDK's answer is not ours
        self.cost.publishes += 1
        await request

    async def _publish_loop(self) -> None:
        timeout: float | None = None
        refused = 0  # publishes refused in a row
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout)
            except TimeoutError:
                pass
            self._dirty.clear()
            try:
                timeout = await self._publish_if_due()
                refused = 0
            except Exception:
                # The SDK refused the attribute update (a connection in trouble): the stage it
                # carried may never have gone out, so it goes again after PUBLISH_RETRY_S,
                # whatever changed meanwhile (the engine changes something every pass while
                # anyone talks, which must not become a publish attempt every pass).
                refused += 1
                if refused == 1:
                    logger.warning(
                        "room %s: publishing the stage failed; retrying", self._room.name, exc_info=True
                    )
                self._gate.forget()
                await asyncio.sleep(PUBLISH_RETRY_S)
                self._dirty.set()
                timeout = None

    async def _publish_if_due(self) -> float | None:
        """Publish the stage if the gate lets it out now; the wait before the next look, if any."""
        now = self._clock()
        stage = self._compose()
        if self._gate.due(stage, now):
            await self._publish(stage, now)
            return None
        if self._gate.differs(stage):
            # a level-only change inside the interval: it goes out when the interval is up
            return max(0.0, self._gate.next_due(now) - now)
        return None

    async def _get_stage(self, data: rtc.RpcInvocationData) -> str:
        return self._payload or stage_rules.encode(self._compose(), self._seq.last, self._wall_clock())

    async def _stats_loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            logger.info(
                "room stats %s",
                json.dumps(
                    {
                        "room": self._room.name,
                        "pid": os.getpid(),
                        "tracks": len(self._mic_owner),
                        **self.cost.as_dict(),
                    }
                ),
            )

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{name}-{self._room.name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("room task %s failed", task.get_name(), exc_info=task.exception())
            if task.get_name().startswith(ESSENTIAL_TASKS):
                # Without it the stage freezes while the agent still holds the room.
                self._give_up(f"its {task.get_name()} task failed")

    def _give_up(self, reason: str) -> None:
        """End this agent's job (the reconciler dispatches a fresh one to the room)."""
        logger.error("room %s: %s; ending this stage agent's job", self._room.name, reason)
        if self._stand_down is not None:
            self._stand_down(reason)


# -- the worker -----------------------------------------------------------------------------------


# True once a newer deployment of this worker's ECS service has taken over (deployment.py).
_superseded = deployment.Superseded()

server = AgentServer(
    load_fnc=WorkerLoad(max_rooms(), superseded=_superseded),
    drain_timeout=DRAIN_TIMEOUT_S,
    max_retry=deployment.SFU_CONNECT_TRIES,
    port=deployment.server_option(HTTP_PORT_ENV, prod_default=DEFAULT_HTTP_PORT),
    num_idle_processes=deployment.server_option(IDLE_PROCESSES_ENV, prod_default=2),
    # Publishes no media: only attributes (update metadata) and RPC answers (data).
    permissions=WorkerPermissions(
        can_publish=False, can_subscribe=True, can_publish_data=True, can_update_metadata=True, hidden=False
    ),
)


@server.on("worker_started")
def _ecs_task() -> None:
    """ECS scale-in protection follows the room count; a superseded worker stands aside (ecs_task.py)."""
    ecs_task.start(lambda: server.active_jobs, _superseded)


@server.rtc_session(agent_name=names.AGENT_NAME)
async def stage_agent(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
    room_name = ctx.room.name

    async def evict(identity: str) -> None:
        await ctx.api.room.remove_participant(api.RoomParticipantIdentity(room=room_name, identity=identity))

    room_stage = RoomStage(ctx.room, evict=evict, stand_down=lambda reason: ctx.shutdown(reason=reason))
    ctx.add_shutdown_callback(room_stage.aclose)
    await room_stage.start()
    logger.info("stage agent started", extra={"room": room_name})
