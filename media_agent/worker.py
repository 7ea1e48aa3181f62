"""The media agent: one job per live Space, deciding the spotlight and publishing the stage.

It joins as an agent participant, subscribes to nothing but speakers' microphones (camera state
comes from publication and mute events, so no video is ever received or decoded), feeds decoded
16 kHz mono frames to the spotlight engine, and publishes the engine's state as the `stage`
participant attribute plus a `get_stage` RPC for late joiners.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import api, rtc
from livekit.agents import AgentServer, AutoSubscribe, JobContext, WorkerPermissions
from livekit.agents.worker import ServerEnvOption

from contract import names
from media_agent import stage as stage_rules
from media_agent.load import WorkerLoad, max_rooms
from media_agent.spotlight import EngineConfig, SpotlightEngine

logger = logging.getLogger("media_agent")

# The engine gets 16 kHz mono: speech detection needs nothing above 8 kHz, and resampling in the
# SDK's native code is cheaper than carrying 48 kHz through Python.
SAMPLE_RATE = 16000
# One Python wake-up per 20 ms of audio per track; smaller frames multiply the per-frame overhead,
# larger ones add their length to the switch latency.
FRAME_MS = 20
# The engine is asked to decide this often (one call per room, whatever the number of tracks).
ADVANCE_INTERVAL_S = 0.04

# Health and /worker (active job count) are served on this port; ECS probes it.
HTTP_PORT_ENV = "SPACES_AGENT_HTTP_PORT"
DEFAULT_HTTP_PORT = 8081
# Idle job processes kept warm so a dispatch does not wait for a process start.
IDLE_PROCESSES_ENV = "SPACES_AGENT_IDLE_PROCESSES"
# When set (seconds), every room logs its cost counters this often (used by bench/agent).
STATS_INTERVAL_ENV = "SPACES_AGENT_STATS_S"

# On SIGTERM the worker stops taking rooms and waits this long for its rooms to end.
DRAIN_TIMEOUT_S = 3600

SPEAKER_SOURCES = (rtc.TrackSource.SOURCE_MICROPHONE,)
CAMERA_SOURCES = (rtc.TrackSource.SOURCE_CAMERA,)


@dataclass
class Cost:
    """Where this room's CPU goes, measured on the event loop thread (decode runs in native threads)."""

    frames: int = 0
    engine_s: float = 0.0
    publish_s: float = 0.0
    publishes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "engine_s": round(self.engine_s, 4),
                "publish_s": round(self.publish_s, 4), "publishes": self.publishes}


Evict = Callable[[str], Awaitable[None]]


class RoomStage:
    """The agent in one room: room events and audio in, stage attribute and RPC out."""

    def __init__(
        self,
        room: rtc.Room,
        *,
        engine: SpotlightEngine | None = None,
        evict: Evict | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._room = room
        self._engine = engine or SpotlightEngine(EngineConfig())
        self._evict = evict
        self._clock = clock
        self._wall_clock = wall_clock
        self._seq = stage_rules.SeqClock(wall_clock)
        self._gate = stage_rules.PublishGate()
        self._carried: stage_rules.Carried | None = None
        self._payload: str | None = None
        self._dirty = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._readers: dict[str, asyncio.Task[None]] = {}  # track sid -> reader task
        self._handlers: list[tuple[str, Callable[..., Any]]] = []
        self._rpc_registered = False
        self._closed = False
        self.cost = Cost()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._take_over_from_predecessors()
        self._on("participant_disconnected", self._participant_disconnected)
        self._on("track_published", self._track_published)
        self._on("track_unpublished", self._track_unpublished)
        self._on("track_subscribed", self._track_subscribed)
        self._on("track_unsubscribed", self._track_unsubscribed)
        self._on("track_muted", self._track_muted)
        self._on("track_unmuted", self._track_unmuted)
        self._on("room_metadata_changed", self._room_metadata_changed)

        now = self._clock()
        self._engine.set_pin(stage_rules.parse_pin(self._room.metadata), now)
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
            self._spawn(self._stats_loop(float(stats_every)), "stats")

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for event, handler in self._handlers:
            self._room.off(event, handler)
        self._handlers.clear()
        if self._rpc_registered:
            try:
                self._room.local_participant.unregister_rpc_method(names.STAGE_RPC_METHOD)
            except Exception:  # the room may already be gone; nothing left to unregister from
                logger.debug("unregister_rpc_method failed", exc_info=True)
        tasks = [*self._tasks, *self._readers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._readers.clear()
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
        best: dict[str, Any] | None = None
        for participant in list(self._room.remote_participants.values()):
            if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                continue
            previous = stage_rules.parse_stage(participant.attributes.get(names.STAGE_ATTRIBUTE))
            if previous is None:
                continue
            self._seq.observe(previous["seq"])
            if best is None or previous["seq"] > best["seq"]:
                best = previous
            if self._evict is not None:
                logger.info("evicting previous stage agent", extra={"identity": participant.identity})
                try:
                    await self._evict(participant.identity)
                except Exception:  # it may have left on its own meanwhile
                    logger.warning("could not evict %s", participant.identity, exc_info=True)
        if best is not None:
            self._carried = stage_rules.Carried(
                spotlight=best.get("spotlight"), video_spotlight=best.get("video_spotlight"))
            logger.info("continuing stage", extra={"seq": best["seq"], "spotlight": best.get("spotlight")})

    # -- room events ------------------------------------------------------------------------------

    def _on(self, event: str, handler: Callable[..., Any]) -> None:
        self._room.on(event, handler)  # type: ignore[arg-type]
        self._handlers.append((event, handler))

    def _participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        self._engine.remove(participant.identity, self._clock())
        self._dirty.set()

    def _track_published(self, publication: rtc.RemoteTrackPublication,
                         participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            return
        if publication.source in SPEAKER_SOURCES:
            self._engine.set_muted(participant.identity, self._clock(), publication.muted)
            publication.set_subscribed(True)
        elif publication.source in CAMERA_SOURCES:
            self._engine.set_video(participant.identity, self._clock(), not publication.muted)

    def _track_unpublished(self, publication: rtc.RemoteTrackPublication,
                           participant: rtc.RemoteParticipant) -> None:
        if publication.source in SPEAKER_SOURCES:
            self._stop_reader(publication.sid)
            self._engine.set_muted(participant.identity, self._clock(), True)
        elif publication.source in CAMERA_SOURCES:
            self._engine.set_video(participant.identity, self._clock(), False)

    def _track_subscribed(self, track: rtc.Track, publication: rtc.RemoteTrackPublication,
                          participant: rtc.RemoteParticipant) -> None:
        if publication.source not in SPEAKER_SOURCES or track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        self._stop_reader(publication.sid)
        task = asyncio.create_task(self._read(participant.identity, track),
                                   name=f"mic-{participant.identity}")
        self._readers[publication.sid] = task

    def _track_unsubscribed(self, track: rtc.Track, publication: rtc.RemoteTrackPublication,
                            participant: rtc.RemoteParticipant) -> None:
        self._stop_reader(publication.sid)

    def _track_muted(self, participant: rtc.Participant, publication: rtc.TrackPublication) -> None:
        self._mute_changed(participant, publication, True)

    def _track_unmuted(self, participant: rtc.Participant, publication: rtc.TrackPublication) -> None:
        self._mute_changed(participant, publication, False)

    def _mute_changed(self, participant: rtc.Participant, publication: rtc.TrackPublication,
                      muted: bool) -> None:
        if participant is self._room.local_participant:
            return
        if publication.source in SPEAKER_SOURCES:
            self._engine.set_muted(participant.identity, self._clock(), muted)
        elif publication.source in CAMERA_SOURCES:
            self._engine.set_video(participant.identity, self._clock(), not muted)

    def _room_metadata_changed(self, old: str, new: str) -> None:
        self._engine.set_pin(stage_rules.parse_pin(new), self._clock())

    def _stop_reader(self, sid: str) -> None:
        task = self._readers.pop(sid, None)
        if task is not None:
            task.cancel()

    # -- audio ------------------------------------------------------------------------------------

    async def _read(self, identity: str, track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(
            track=track, sample_rate=SAMPLE_RATE, num_channels=1, frame_size_ms=FRAME_MS)
        engine, clock, cost = self._engine, self._clock, self.cost
        try:
            async for event in stream:
                frame = event.frame
                started = time.perf_counter()
                pcm = np.frombuffer(frame.data, dtype=np.int16)
                # The engine wants the time of the first sample; the frame has just arrived whole.
                engine.push_audio(identity, clock() - len(pcm) / frame.sample_rate, pcm, frame.sample_rate)
                cost.engine_s += time.perf_counter() - started
                cost.frames += 1
        finally:
            await stream.aclose()

    # -- deciding and publishing ------------------------------------------------------------------

    async def _advance_loop(self) -> None:
        while True:
            await asyncio.sleep(ADVANCE_INTERVAL_S)
            started = time.perf_counter()
            changed = self._engine.advance(self._clock())
            self.cost.engine_s += time.perf_counter() - started
            if changed is not None:
                self._dirty.set()

    def _compose(self) -> dict[str, Any]:
        stage = stage_rules.normalize(self._engine.state.to_dict())
        if self._carried is not None:
            if stage["spotlight"] is not None:
                self._carried = None  # the engine has its own opinion now
            else:
                present = set(self._room.remote_participants)
                stage = stage_rules.apply_carried(stage, self._carried, present)
        return stage

    async def _publish_now(self) -> None:
        now = self._clock()
        stage = self._compose()
        await self._publish(stage, now)

    async def _publish(self, stage: dict[str, Any], now: float) -> None:
        started = time.perf_counter()
        payload = stage_rules.encode(stage, self._seq.next(), self._wall_clock())
        self._payload = payload
        self._gate.mark(stage, now)
        await self._room.local_participant.set_attributes({names.STAGE_ATTRIBUTE: payload})
        self.cost.publish_s += time.perf_counter() - started
        self.cost.publishes += 1

    async def _publish_loop(self) -> None:
        timeout: float | None = None
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout)
            except TimeoutError:
                pass
            self._dirty.clear()
            now = self._clock()
            stage = self._compose()
            if self._gate.due(stage, now):
                await self._publish(stage, now)
                timeout = None
            elif self._gate.differs(stage):
                # a level-only change inside the interval: it goes out when the interval is up
                timeout = max(0.0, self._gate.next_due(now) - now)
            else:
                timeout = None

    async def _get_stage(self, data: rtc.RpcInvocationData) -> str:
        return self._payload or stage_rules.encode(self._compose(), self._seq.last, self._wall_clock())

    async def _stats_loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            logger.info("room stats %s", {"room": self._room.name, "tracks": len(self._readers),
                                          **self.cost.as_dict()})

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{name}-{self._room.name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("room task %s failed", task.get_name(), exc_info=task.exception())


# -- the worker -----------------------------------------------------------------------------------

def _http_port() -> int | ServerEnvOption[int]:
    value = os.environ.get(HTTP_PORT_ENV)
    return int(value) if value else ServerEnvOption(dev_default=0, prod_default=DEFAULT_HTTP_PORT)


def _idle_processes() -> int | ServerEnvOption[int]:
    value = os.environ.get(IDLE_PROCESSES_ENV)
    return int(value) if value else ServerEnvOption(dev_default=0, prod_default=2)


server = AgentServer(
    load_fnc=WorkerLoad(max_rooms()),
    drain_timeout=DRAIN_TIMEOUT_S,
    port=_http_port(),
    num_idle_processes=_idle_processes(),
    # Publishes no media: only attributes (update metadata) and RPC answers (data).
    permissions=WorkerPermissions(can_publish=False, can_subscribe=True, can_publish_data=True,
                                  can_update_metadata=True, hidden=False),
)


@server.rtc_session(agent_name=names.AGENT_NAME)
async def stage_agent(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
    room_name = ctx.room.name

    async def evict(identity: str) -> None:
        await ctx.api.room.remove_participant(
            api.RoomParticipantIdentity(room=room_name, identity=identity))

    room_stage = RoomStage(ctx.room, evict=evict)
    ctx.add_shutdown_callback(room_stage.aclose)
    await room_stage.start()
    logger.info("stage agent started", extra={"room": room_name})
