"""The composer agent: one job per live Space, drawing the stage into the Space's HLS broadcast.

It joins as a hidden agent participant and is a client of the stage like any viewer: it reads the
stage agent's `stage` attribute (from participants of kind AGENT only), never decides a spotlight,
and switches the big tile when, and only when, a new stage arrives. It subscribes to every
speaker's microphone; it holds the stage's `video_spotlight` video at its top simulcast layer (the
camera, or the screen share when the stage's `video_source` says so) and the other stage cameras
warm at their lowest (composer/video.py), so that a switch draws a picture at once.

One pacer task keeps the output on the wall clock: 20 ms audio chunks from the mixer and frames at
the configured rate, interleaved in time order and handed to a feeder thread that owns the
`Broadcast` (encoding is CPU work that must not stall the event loop, which also receives audio).
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
from livekit import api, rtc
from livekit.agents import AgentServer, AutoSubscribe, JobContext, WorkerPermissions
from livekit.agents.types import ATTRIBUTE_AGENT_NAME

from composer import layout as layouts
from composer import settings, video
from composer.avatars import AvatarCache
from composer.hls import Broadcast, BroadcastConfig, BroadcastEnded, BroadcastStats, Sink, discarding
from composer.hls.headers import cache_headers
from composer.hls.playlist import MediaPlaylist
from composer.hls.timeline import timeline_json
from composer.load import LOAD_THRESHOLD, composer_load
from composer.mixer import Mixer
from composer.pacing import Schedule
from composer.reactions_feed import ReactionFeedWriter
from composer.render import Renderer
from composer.video import held_videos
from composer.watchdog import CHECK_EVERY_S, Watchdog, stall_limit
from contract import names
from contract.avatar_fetch import policy_from_env
from contract.broadcast import BroadcastTimeline, TimelineEntry
from contract.reactions import parse_reaction_burst
from contract.room_metadata import TIMELINE_RECENT_MAX, RoomMetadata, parse_room_metadata, recent_timeline
from contract.stage import StageState, VideoSource, parse_stage
from media_agent import deployment, ecs_task
from media_agent.audio import FrameSink, MicStreams
from media_agent.subscriptions import Resubscriber

logger = logging.getLogger("composer")

STAGE_ROLES = frozenset(layouts.STAGE_ORDER)
MIC = rtc.TrackSource.SOURCE_MICROPHONE
CAMERA = rtc.TrackSource.SOURCE_CAMERA
SCREEN = rtc.TrackSource.SOURCE_SCREENSHARE
# Simulcast layers by the name composer/video.py gives them -> the SDK's quality to ask the SFU for.
QUALITY = {"high": rtc.VideoQuality.VIDEO_QUALITY_HIGH, "low": rtc.VideoQuality.VIDEO_QUALITY_LOW}

# The task that feeds the encoder on the wall clock; the job ends if it dies.
PACE_TASK = "pace"
# The watchdog task (composer/watchdog.py): ending it ends the job, as for the pacing task.
WATCHDOG_TASK = "watchdog"
# A camera sends 15-30 pictures a second, and even one the SFU has moved to its lowest layer sends
# several. None for this long means the camera is not working (its sender's uplink failed, a stuck
# track): the big tile shows the person's card, as with the camera off, instead of a frozen
# picture, and the picture comes back with the next frame. Not for screen shares: a browser sends
# an unchanging screen at 1 fps or less, and the last picture is what the screen shows.
CAMERA_STALE_S = 2.0
# A shown camera normally reaches its top layer at that layer's next keyframe. livekit-server grants
# the upgrade of a subscription that is already streaming (a warm camera's) only while it judges
# the composer's downlink stable; judged deficient (a busy host), the camera can stay at its lowest
# layer for a whole turn, while a new subscription is given bits at once. So a camera shown from
# warm and still at the layer it had then, short of its full picture, this long after the switch
# (settings.FULL_PICTURE_WAIT_ENV, 1.5 s) is subscribed to afresh, once, its picture kept in the big
# tile until the new subscription's first one. A warm camera shown before its first picture is
# judged the same way, the wait counted from that picture: it comes at the warm layer too, and the
# SFU cannot move a subscription up before it streams.
# The renewal unsubscribes, then subscribes again this long after. The SDK reports
# track_unsubscribed itself, not the SFU: its core drops the track as it sends the request (rust-sdks,
# RemoteTrackPublication: set_track(None) first), and the event reaches Python through the FFI event
# loop shortly after. Nothing tells when the SFU has acted on it, so the gap counts from about when
# the unsubscribe was sent. livekit-server (v1.13.5, pkg/rtc/subscriptionmanager.go)
# records each request as the subscription's desired state and queues a reconcile at once; a
# subscribe that reaches it before that reconcile has run finds the subscription as desired and
# changes nothing, while the SDK has dropped the track (with no gap, the renewed camera never came
# back). Once the unsubscribe is under way, a subscribe is acted on when the old down track has
# closed (its blank frames, 0.2 s), as that close reconciles again. So the gap need only outlast the
# SFU's reconcile queue and any bunching of the two requests on their shared signalling connection
# (a TCP retransmission, 0.2 s at least): 0.3 s covers both, and every 0.1 s more freezes the big
# tile's picture that much longer. What still slips through is caught by SUBSCRIPTION_DEADLINE_S.
RESUBSCRIBE_GAP_S = 0.3
# A subscription of the shown video (a renewal's, from its unsubscribe, or any other) with no track
# this long after it was asked is given up: the track is let go and, RECOVERY_GAP_S later, asked for
# again (the card shows until it comes). A subscribe the SFU took as no change (one that reached it
# before it acted on an unsubscribe of the same track) never brings one, and nothing else would ask
# again. The SFU may still count it subscribed, so it is unsubscribed first, and no sync asks for it
# during the gap (a stage update may come every 0.5 s): asking again at once would change nothing.
# Each give-up in a row doubles the next deadline (to SUBSCRIPTION_DEADLINE_MAX_S; a track resets it):
# a subscription that is only slow (a loaded SFU) is not cut off again and again, for a whole turn.
SUBSCRIPTION_DEADLINE_S = 4.0
SUBSCRIPTION_DEADLINE_MAX_S = 32.0
RECOVERY_GAP_S = 1.0
# A starved composer (spans of media dropped to stay on the clock) says so at most this often, at
# ERROR: 10 such lines in 5 minutes, starvation sustained over them, raise the composer errors alarm.
STARVED_LOG_EVERY_S = 30.0

HTTP_PORT_ENV = names.ENV_COMPOSER_HTTP_PORT
# Not the stage agent's 8081: both workers may run on one host (make dev).
DEFAULT_HTTP_PORT = 8082
IDLE_PROCESSES_ENV = "SPACES_COMPOSER_IDLE_PROCESSES"
# When set (seconds), every Space logs its counters this often (frames, chunks, encoder backlog).
STATS_INTERVAL_ENV = "SPACES_COMPOSER_STATS_S"
# On SIGTERM the worker stops taking Spaces and waits this long for its Spaces to end.
DRAIN_TIMEOUT_S = 3600
# A shutdown without a ROOM_DELETED reason asks the SFU this long whether the room is gone (the
# deletion of a room ends its agents' jobs tens of milliseconds before the room itself is removed).
ROOM_GONE_WAIT_S = 3.0
ROOM_GONE_POLL_S = 0.25
# After evicting another composer, wait this long for its closing playlist write (a flush of one
# segment and two small writes, well under a second unless the sink is retrying).
EVICT_GRACE_S = 5.0
# An evicted composer's close: its last segment and playlist, written within the newcomer's grace.
EVICTED_CLOSE_S = EVICT_GRACE_S - 1.0
# A job's shutdown includes flushing the last segment and writing the playlist (retried writes).
# The framework kills the job's process at this limit, so the close's steps share it as one
# budget: asking the SFU whether the room is gone (ROOM_GONE_WAIT_S), state.json's end (at most
# STATE_WRITE_BUDGET_S), then the broadcast's close with what is left but SHUTDOWN_MARGIN_S (its
# publisher keeps the last seconds of that for the final playlist, composer/hls/publisher.py).
SHUTDOWN_TIMEOUT_S = 30.0
SHUTDOWN_MARGIN_S = 2.0
STATE_WRITE_BUDGET_S = 5.0
# The broadcast's close always gets at least this, even after slow earlier steps.
MIN_CLOSE_S = 8.0


class BroadcastLike(Protocol):
    """What the composer uses of composer.hls.Broadcast."""

    space_id: str

    def push_video(self, rgb: np.ndarray) -> None: ...
    def push_audio(self, pcm: np.ndarray) -> None: ...
    def record_stage(self, entry: Mapping[str, Any]) -> None: ...
    def skip(self, seconds: float) -> None: ...
    def close(self, ended: bool = False, *, timeout: float | None = 30.0) -> bool: ...
    def hold_playlists(self, held: bool) -> None: ...  # any thread
    @property
    def stats(self) -> BroadcastStats: ...  # any thread
    @property
    def superseded(self) -> bool: ...  # any thread


class MicSource(Protocol):
    """Decoded microphones, delivered to a FrameSink (media_agent.audio.MicStreams)."""

    def open(self, key: str, track: rtc.Track) -> None: ...
    def close(self, key: str) -> None: ...
    async def aclose(self) -> None: ...


# Opens the Space's broadcast: (config, space_id, epoch_ms) -> a Broadcast, continued if it exists.
OpenBroadcast = Callable[[BroadcastConfig, str, int], BroadcastLike]


def resume_in(
    sink: Sink, wall_clock: Callable[[], float] = time.time, *, newest: Callable[[], bool] = lambda: False
) -> OpenBroadcast:
    """`newest`, asked once the playlist is read: this composer is still in the room, so the newest of
    the Space's composers (it evicted the others on joining; a newer one would have removed it,
    EVICT_GRACE_S before writing): an epoch in the playlist ahead of its own is then a faster
    clock, not a newer writer (Broadcast.resume)."""

    def open_broadcast(config: BroadcastConfig, space_id: str, epoch_ms: int) -> BroadcastLike:
        return Broadcast.resume(
            config, sink, space_id=space_id, epoch_ms=epoch_ms, clock=wall_clock, newest=newest
        )

    return open_broadcast


def kept_or_discarded(sink: Sink, metadata: RoomMetadata) -> Sink:
    """Where this Space's broadcast goes: `sink`, or when its host kept no recording (`record`,
    fixed at creation) the same place with every object tagged for deletion (sinks.discarding)."""
    return sink if metadata.record else discarding(sink)


def recording_stubs(
    space_id: str, *, video: bool, started_at: float
) -> list[tuple[str, bytes, dict[str, str]]]:
    """What replaces the whole-stream playlists (every rendition a broadcast of this shape
    writes) and the timeline of an ended Space without a recording: closed, and empty."""
    empty = MediaPlaylist(ended=True).render().encode()
    playlists = [names.BROADCAST_PLAYLIST]
    if video:
        playlists += [names.BROADCAST_LOW_PLAYLIST, names.BROADCAST_AUDIO_PLAYLIST]
    timeline = BroadcastTimeline(space_id=space_id, started_at=started_at, ended=True)
    stubs = [(f"{space_id}/{name}", empty, cache_headers(name, closed=True)) for name in playlists]
    stubs.append(
        (
            f"{space_id}/{names.BROADCAST_TIMELINE}",
            timeline_json(timeline).encode(),
            cache_headers(names.BROADCAST_TIMELINE, closed=True),
        )
    )
    return stubs


def decoded_microphones(sink: FrameSink, sample_rate: int) -> MicSource:
    return MicStreams(sink, sample_rate=sample_rate, frame_ms=20)


def lip_sync(config: BroadcastConfig, mixer: Mixer) -> BroadcastConfig:
    """`config` with the audio's lag behind the pictures (`BroadcastConfig.audio_lag`), so that a
    sound and a picture that arrive together are stamped together.

    A sound is stamped `mixer.hold` after it arrived (the jitter target less a chunk: 40 ms); a
    picture one frame before (the pacer draws frame k when it falls due, at (k+1)/fps, from the
    newest picture received by then: pacing.Schedule). The lag is the sum: 107 ms at 15 fps, 73 ms
    at 30. Without it the broadcast's audio trailed its video by that much more than the SFU
    delivered them (docs/bench/broadcast.md, "A/V sync"). An audio-only broadcast has nothing to
    meet.
    """
    if not config.video:
        return config
    return replace(config, audio_lag=mixer.hold + Fraction(1, config.fps))


# -- the feeder: the only thread that touches the Broadcast -----------------------------------------


class Feeder:
    """Runs `Broadcast` calls in order on one thread (Broadcast is fed from one thread)."""

    def __init__(self, broadcast: BroadcastLike, *, sample_rate: int, fps: int) -> None:
        self.broadcast = broadcast
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._sample_rate = sample_rate
        self._fps = fps
        self._backlog_audio = 0  # samples queued, not yet encoded
        self._backlog_video = 0  # frames queued, not yet encoded
        self._lock = threading.Lock()
        self._done: asyncio.Future[bool] | None = None
        self._thread = threading.Thread(target=self._run, name=f"feeder-{broadcast.space_id}", daemon=True)
        self.failed: BaseException | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._loop = loop
        self._thread.start()

    @property
    def backlog_s(self) -> float:
        """Media queued and not yet encoded, in seconds (the longer of audio and video)."""
        with self._lock:
            return max(self._backlog_audio / self._sample_rate, self._backlog_video / self._fps)

    def audio(self, pcm: np.ndarray) -> None:
        with self._lock:
            self._backlog_audio += len(pcm)
        self._queue.put(("audio", pcm))

    def video(self, frame: np.ndarray) -> None:
        with self._lock:
            self._backlog_video += 1
        self._queue.put(("video", frame))

    def stage(self, entry: dict[str, Any]) -> None:
        self._queue.put(("stage", entry))

    def skip(self, seconds: float) -> None:
        self._queue.put(("skip", seconds))

    async def close(self, ended: bool, budget_s: float) -> bool:
        """Flush and write everything within `budget_s` from now; True when the sink has it all."""
        assert self._done is not None
        self._queue.put(("close", (ended, time.monotonic() + budget_s)))
        return await self._done

    def _run(self) -> None:
        ok = False
        try:
            while True:
                kind, value = self._queue.get()
                if kind == "audio":
                    with self._lock:
                        self._backlog_audio -= len(value)
                    self.broadcast.push_audio(value)
                elif kind == "video":
                    with self._lock:
                        self._backlog_video -= 1
                    self.broadcast.push_video(value)
                elif kind == "stage":
                    self.broadcast.record_stage(value)
                elif kind == "skip":
                    self.broadcast.skip(value)
                elif kind == "close":
                    # The media queued before the close was encoded first: what is left of the budget.
                    ended, deadline = value
                    ok = self.broadcast.close(ended=ended, timeout=max(1.0, deadline - time.monotonic()))
                    return
        except BaseException as exc:  # an encoder fault ends this broadcast, never the process
            self.failed = exc
            logger.exception("broadcast %s failed", self.broadcast.space_id)
            # The job ends and a replacement continues the playlists: this broadcast writes no
            # playlist from here on, so that the two never both write one (its segments still go).
            self.broadcast.hold_playlists(True)
            try:
                self.broadcast.close(ended=False, timeout=5)
            except Exception:
                logger.exception("closing the failed broadcast %s", self.broadcast.space_id)
            ok = False  # a failed broadcast is never a complete one, however its close went
        finally:
            if self._done is not None:
                self._loop.call_soon_threadsafe(_resolve, self._done, ok)


def _source(source: int) -> VideoSource:
    return "screen_share" if source == SCREEN else "camera"


def _let_go(publication: rtc.RemoteTrackPublication, identity: str) -> None:
    """Unsubscribe a camera or screen share the composer held, and say so: tests and the benchmark
    replay the held tracks from these lines, so every let-go is logged the same way."""
    publication.set_subscribed(False)
    logger.info("%s unsubscribe %s", _kind(publication.source), identity)


def _kind(source: int) -> str:
    """How the log names a video track (tests replay "camera subscribe <identity>" lines)."""
    return "screen" if _source(source) == "screen_share" else "camera"


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


# -- the composer in one room ------------------------------------------------------------------------


@dataclass
class _Camera:
    """A video track held: a camera (shown, or warm: composer/video.py), or a pinned screen share."""

    identity: str
    sid: str
    source: VideoSource = "camera"
    full_height: int = 0  # the publication's top layer (0: unknown)
    simulcast: bool = False
    shown: bool = False
    frame: np.ndarray | None = None  # the newest picture fitted to the big tile (while shown)
    frame_at: float = 0.0  # the composer's clock when `frame` arrived
    frame_height: int = 0  # `frame`'s height as received (a lower layer's is smaller)
    latest: rtc.VideoFrame | None = None  # the newest picture received, fitted only when shown
    latest_at: float = 0.0
    warm_start: bool = False  # subscribed at the lowest layer: its first pictures are warm ones
    task: asyncio.Task[None] | None = None


def big_tile_picture(camera: _Camera | None, big: layouts.BigTile | None, now: float) -> np.ndarray | None:
    """The picture the big tile shows at `now`, or None for the holder's card: the shown track must
    be the tile's, have delivered a picture, and (a camera) one within CAMERA_STALE_S."""
    if camera is None or big is None or (big.camera, big.source) != (camera.identity, camera.source):
        return None
    if camera.source == "camera" and now - camera.frame_at > CAMERA_STALE_S:
        return None
    return camera.frame


class RoomComposer:
    """The composer in one room: stage, microphones and cameras in; a Broadcast fed in real time."""

    def __init__(
        self,
        room: rtc.Room,
        *,
        open_broadcast: OpenBroadcast,
        env: Mapping[str, str],
        state_sink: Sink | None = None,
        microphones: Callable[[FrameSink, int], MicSource] = decoded_microphones,
        epoch_ms: int | None = None,
        room_exists: Callable[[], Awaitable[bool]] | None = None,
        on_failure: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._room = room
        self._open_broadcast = open_broadcast
        self._microphones = microphones
        self._env = env
        self._room_exists = room_exists
        self._on_failure = on_failure
        self._epoch_ms = epoch_ms if epoch_ms is not None else int(wall_clock() * 1000)
        self._clock = clock
        self._wall_clock = wall_clock
        self._metadata = parse_room_metadata(room.metadata)
        # state.json (the room metadata for HLS viewers) goes to the broadcast's sink; None: not written.
        self._state_sink = state_sink
        self._state_pending: RoomMetadata | None = None
        self._state_last: RoomMetadata | None = None
        self._state_writer: asyncio.Task[None] | None = None
        # Each state.json write in the order it was asked for: a write cancelled with its task goes
        # on in its thread, and must not land after a newer one (the end's). See _store_state.
        self._state_lock = threading.Lock()
        self._state_asked = 0
        self._state_stored = 0
        # The stage changes recorded lately, for state.json's `timeline_recent` (at most enough of them).
        self._stage_changes: tuple[TimelineEntry, ...] = ()
        # reactions.json for the same viewers (reactions_feed.py), on the same sink.
        self.reactions: ReactionFeedWriter | None = None
        self._video = self._metadata.video != "off"
        config = settings.config_from_env(env, video=self._video)
        self._mixer = Mixer(sample_rate=config.sample_rate)
        self.config = lip_sync(config, self._mixer)
        self._geometry = layouts.Geometry.for_size(self.config.width, self.config.height)
        # Stage avatars, fetched in the background under the SSRF policy (composer/avatars.py).
        self._avatars = AvatarCache(policy_from_env(env)) if self._video else None
        self._renderer = Renderer(self._geometry, self._avatars)
        self._stage: StageState | None = None
        self._stage_from: str | None = None  # the agent whose stage that is
        self._layout: layouts.Layout | None = None
        self._recorded: tuple[str | None, str | None, str | None] | None = None
        # Every video track held (composer/video.py), by publication sid; `_camera` is the shown one.
        self._held: dict[str, _Camera] = {}
        self._camera: _Camera | None = None
        self._camera_wanted: set[str] = set()  # video publication sids we asked for
        self._layers: dict[str, video.Layer] = {}  # the simulcast layer asked for, by sid
        # Shown cameras being subscribed to afresh (`_await_full`), by sid: the old reader.
        self._renewing: dict[str, _Camera] = {}
        # The shown video's subscriptions not answered yet, by sid: their SUBSCRIPTION_DEADLINE_S.
        self._deadlines: dict[str, asyncio.Task[None]] = {}
        # Video sids let go after a subscription brought nothing: no sync asks for them until their
        # RECOVERY_GAP_S is over (`_subscription_deadline`).
        self._cooling: set[str] = set()
        self._give_ups: dict[str, int] = {}  # video sids' subscriptions given up in a row
        self._full_check: asyncio.Task[None] | None = None
        self._renewed_at: float | None = None  # the switch (its time) whose camera was renewed
        self._warm = settings.warm_cameras(env)
        self._full_wait = settings.full_picture_wait(env)
        # The big tile's last switch of video: to what, when, and which of its two moments (a
        # first picture, the full picture) are still to be logged (the camera switch benchmark).
        self._switch_to: tuple[str, VideoSource] | None = None
        self._switch_at = 0.0
        self._switch_unseen: set[str] = set()
        # Microphone publication sids we asked for: `publication.subscribed` only changes when the
        # SFU's answer arrives, so a request withdrawn and made again before it would be lost.
        self._mic_wanted: set[str] = set()
        self._resubscribe = Resubscriber(self._spawn, self._sync_tracks)
        self._mics: MicSource | None = None
        self._feeder: Feeder | None = None
        self._handlers: list[tuple[str, Callable[..., Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._disconnect_reason: rtc.DisconnectReason.ValueType | None = None
        # Set in start(): the stall and reconnection rules (composer/watchdog.py).
        self._watchdog: Watchdog | None = None
        # This job decided to end itself (a stall, the fence, a failed encoder or pacer): a
        # replacement will continue the playlists, so they stay held for good (_give_up).
        self._gave_up = False
        # It gave up at the reconnection fence: the SFU may drop it and a replacement come while
        # its close runs, even if the Space has ended meanwhile (that replacement writes the end).
        self._fenced = False
        self._closed = False
        self.frames = 0
        self.chunks = 0
        self.dropped_s = 0.0
        # Media dropped since the last starvation line, and when that line was written.
        self._unreported_drop_s = 0.0
        self._starved_logged_at: float | None = None

    @property
    def space_id(self) -> str:
        return self._metadata.space_id or self._room.name

    @property
    def layout(self) -> layouts.Layout | None:
        """What the next video frame draws (None before the first layout)."""
        return self._layout

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open (or continue) the Space's broadcast and start following the room.

        Raises BroadcastEnded when the Space's playlist is already closed.
        """
        config, space_id = self.config, self.space_id
        broadcast = await asyncio.to_thread(self._open_broadcast, config, space_id, self._epoch_ms)
        self._feeder = Feeder(broadcast, sample_rate=config.sample_rate, fps=config.fps)
        self._feeder.start()
        self._mics = self._microphones(self._on_mic_frame, config.sample_rate)
        self._on("participant_connected", self._participant_connected)
        self._on("participant_disconnected", self._participant_disconnected)
        self._on("participant_attributes_changed", self._attributes_changed)
        self._on("participant_name_changed", self._name_changed)
        self._on("track_published", self._track_published)
        self._on("track_unpublished", self._track_unpublished)
        self._on("track_subscribed", self._track_subscribed)
        self._on("track_unsubscribed", self._track_unsubscribed)
        self._on("track_subscription_failed", self._subscription_failed)
        self._on("track_muted", self._mute_changed)
        self._on("track_unmuted", self._mute_changed)
        self._on("room_metadata_changed", self._room_metadata_changed)
        self._on("disconnected", self._disconnected)
        self._on("reconnecting", self._reconnecting)
        self._on("reconnected", self._reconnected)
        if self._state_sink is not None:
            self.reactions = ReactionFeedWriter(
                self._state_sink, space_id, spawn=self._spawn, wall_clock=self._wall_clock
            )
            self.reactions.start()
            self._on("data_received", self._data_received)
        # The metadata read at construction may have changed while the broadcast was opened (S3
        # reads, before any handler was on): read it again, now that no change can be missed.
        self._take_metadata(self._room.metadata)
        for participant in self._room.remote_participants.values():
            for publication in participant.track_publications.values():
                self._track_published(publication, participant)
        self._refresh_stage()
        self._relayout()
        self._publish_state(parse_room_metadata(self._room.metadata))
        self._spawn(self._pace(), PACE_TASK)
        self._watchdog = Watchdog(stall_s=stall_limit(config.segment_seconds), progress_at=self._clock())
        self._spawn(self._watch(), WATCHDOG_TASK)
        stats_every = self._env.get(STATS_INTERVAL_ENV)
        if stats_every:
            self._spawn(self._stats_loop(float(stats_every)), "stats")
        logger.info(
            "composing %s (video %s, %dx%d@%d, epoch %d)",
            space_id,
            self._metadata.video,
            config.width,
            config.height,
            config.fps,
            self._epoch_ms,
        )

    async def aclose(self) -> None:
        """Stop, flush and close the broadcast: ENDLIST only if the room was deleted (Space ended)."""
        if self._closed:
            return
        self._closed = True
        began = self._clock()
        ended = await self._space_ended()
        for event, handler in self._handlers:
            self._room.off(event, handler)  # type: ignore[arg-type]
        self._handlers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for sid in list(self._held):
            self._release(sid)
        if self._avatars is not None:
            self._avatars.close()
        if self._mics is not None:
            await self._mics.aclose()
        if ended and self._state_last is not None:
            # The room and its metadata are gone: HLS viewers learn the end from state.json. Before
            # the broadcast's close, which can take most of the shutdown's budget when the sink is
            # slow (the end must not be what a killed process loses); the page plays on to the
            # stream's ENDLIST before it shows the end (web/src/views/space.ts), so the last
            # segments written after this are still heard.
            self._state_pending = replace(self._state_last, state="ended")
            try:
                await asyncio.wait_for(self._write_states(), STATE_WRITE_BUDGET_S)
            except TimeoutError:
                logger.warning("state.json of %s: the end was not written in time", self.space_id)
        if self._feeder is not None:
            if ended and not self._fenced:
                # The Space is over: no replacement will come (none is dispatched for a deleted
                # room, and one for a job that gave up otherwise comes 20-30 s after it left), so a
                # hold gives way to the closing ENDLIST. After the fence a replacement may have come
                # and written the end itself; this job leaves it alone.
                self._feeder.broadcast.hold_playlists(False)
            elapsed = self._clock() - began
            budget = max(MIN_CLOSE_S, SHUTDOWN_TIMEOUT_S - SHUTDOWN_MARGIN_S - elapsed)
            if self._disconnect_reason == rtc.DisconnectReason.PARTICIPANT_REMOVED:
                # Evicted by a newer composer, which reads the playlists EVICT_GRACE_S later and
                # writes them from then on: this job's closing write must land before that,
                # counted from the start of this shutdown.
                budget = min(budget, max(1.0, EVICTED_CLOSE_S - elapsed))
            complete = await self._feeder.close(ended, budget)
            if ended and complete and not self._metadata.record:
                await self._withdraw_recording()
            logger.info(
                "broadcast %s closed (ended=%s, complete=%s, frames=%d, chunks=%d, dropped %.1f s)",
                self.space_id,
                ended,
                complete,
                self.frames,
                self.chunks,
                self.dropped_s,
            )

    async def _withdraw_recording(self) -> None:
        """A Space whose host kept no recording has ended: its whole-stream playlists and timeline
        become empty closed ones, so nobody who knows its id replays it in the day or two before
        the bucket deletes the objects (they are tagged for that, `kept_or_discarded`). The live
        windows stay as they are: viewers a few seconds behind play them to their end."""
        sink = self._state_sink
        if sink is None:
            return
        stubs = recording_stubs(self.space_id, video=self._video, started_at=self._epoch_ms / 1000)

        def write() -> None:
            for key, body, headers in stubs:
                sink.write(
                    key, body, content_type=headers["Content-Type"], cache_control=headers["Cache-Control"]
                )

        try:
            await asyncio.wait_for(asyncio.to_thread(write), STATE_WRITE_BUDGET_S)
        except Exception:  # the objects still go with the bucket's rule
            logger.warning("the recording of %s was not withdrawn", self.space_id, exc_info=True)

    async def _space_ended(self) -> bool:
        """Whether this shutdown is the end of the Space: the room was deleted.

        The room's disconnect reason says so when it arrives first. But deleting a room first
        closes its participants, which ends this job (the server terminates it, the framework
        disconnects: CLIENT_INITIATED) before the room itself is gone; so the SFU is asked whether
        the room still exists, for a few seconds. A draining worker finds it there all along.
        """
        if self._disconnect_reason == rtc.DisconnectReason.ROOM_DELETED:
            return True
        if self._room_exists is None or self._disconnect_reason == rtc.DisconnectReason.PARTICIPANT_REMOVED:
            # Evicted by a newer composer: the room goes on, and asking would spend the seconds
            # the closing write has before the newcomer takes the playlists over.
            return False
        deadline = self._clock() + ROOM_GONE_WAIT_S
        while True:
            try:
                # Bounded: an SFU API that does not answer must not eat the shutdown's budget.
                if not await asyncio.wait_for(self._room_exists(), ROOM_GONE_WAIT_S):
                    return True
            except Exception:  # cannot tell: leave the playlist open (a replacement can continue it)
                logger.warning("could not ask the SFU whether %s exists", self._room.name, exc_info=True)
                return False
            if self._clock() >= deadline:
                return False
            await asyncio.sleep(ROOM_GONE_POLL_S)

    # -- room events -------------------------------------------------------------------------------

    def _on(self, event: str, handler: Callable[..., Any]) -> None:
        self._room.on(event, handler)  # type: ignore[arg-type]
        self._handlers.append((event, handler))

    def _disconnected(self, reason: rtc.DisconnectReason.ValueType) -> None:
        self._disconnect_reason = reason
        logger.info("room %s disconnected: %s", self._room.name, rtc.DisconnectReason.Name(reason))

    def _reconnecting(self) -> None:
        """The SFU connection is lost: stop writing the playlists until it is back (the SFU may
        drop this composer meanwhile, and the reconciler dispatch one that continues them)."""
        logger.warning("room %s reconnecting: holding the playlists", self._room.name)
        if self._watchdog is not None:
            self._watchdog.connection_lost(self._clock())
        if self._feeder is not None:
            self._feeder.broadcast.hold_playlists(True)

    def _reconnected(self) -> None:
        if self._watchdog is not None:
            self._watchdog.connection_restored(self._clock())
        if self._gave_up:
            return  # this job is ending; a replacement may already own the playlists
        logger.info("room %s reconnected: writing the playlists again", self._room.name)
        if self._feeder is not None:
            self._feeder.broadcast.hold_playlists(False)
        # A metadata change made while away may not have been delivered: read the room's own.
        self._take_metadata(self._room.metadata)
        self._sync_microphones()
        self._sync_camera()
        self._relayout()

    def _participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        self._refresh_stage()
        self._relayout()

    def _participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        for publication in participant.track_publications.values():
            self._forget(publication)
        self._refresh_stage()
        self._relayout()

    def _attributes_changed(self, changed: Mapping[str, str], participant: rtc.Participant) -> None:
        if participant is self._room.local_participant:
            return
        if names.STAGE_ATTRIBUTE in changed:
            self._refresh_stage()
        self._relayout()

    def _name_changed(self, participant: rtc.Participant, old: str, new: str) -> None:
        self._relayout()

    def _room_metadata_changed(self, old: str, new: str) -> None:
        self._publish_state(parse_room_metadata(new))
        self._take_metadata(new)
        self._sync_microphones()
        self._sync_camera()
        self._relayout()

    def _take_metadata(self, raw: str) -> None:
        metadata = parse_room_metadata(raw)
        if metadata.video != self._metadata.video:
            # The stream's shape (video or audio-only) is fixed when it starts; see docs/broadcast.md.
            logger.warning("video policy changed to %s; the broadcast keeps its shape", metadata.video)
        self._metadata = replace(
            metadata, space_id=self._metadata.space_id or metadata.space_id, video=self._metadata.video
        )

    # -- who is on stage ------------------------------------------------------------------------------

    def _on_stage(self, identity: str) -> bool:
        """Whether the room metadata (the control plane's word) puts `identity` on stage: only they
        are heard and drawn (RoomMetadata.may_speak)."""
        return self._metadata.may_speak(identity)

    def _sync_microphones(self) -> None:
        """Hold the microphones of the stage members only (after a change of the room metadata)."""
        for participant in self._room.remote_participants.values():
            if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                continue
            on_stage = self._on_stage(participant.identity)
            for publication in participant.track_publications.values():
                if publication.source != MIC or (publication.sid in self._mic_wanted) == on_stage:
                    continue
                if on_stage:
                    self._mic_wanted.add(publication.sid)
                    publication.set_subscribed(True)
                else:
                    logger.info("microphone of %s dropped: not on stage", participant.identity)
                    publication.set_subscribed(False)
                    self._forget(publication)

    def _data_received(self, packet: rtc.DataPacket) -> None:
        # Only the control plane's aggregates (RoomService.SendData: no sending participant); a
        # stage member who may publish data cannot put reactions into every viewer's feed.
        if packet.topic != names.REACTIONS_TOPIC or packet.participant is not None or self.reactions is None:
            return
        burst = parse_reaction_burst(packet.data)
        if burst is not None:
            self.reactions.add(burst)

    # -- state.json: the room metadata for viewers without a room connection ---------------------

    def _publish_state(self, metadata: RoomMetadata) -> None:
        """Write state.json beside the playlist: the room metadata, with the stage's recent changes.

        Latest wins: a change that arrives during a write is written right after it, once."""
        if self._state_sink is None or self._closed:
            return  # closing: only the end is written now (aclose)
        recent = recent_timeline(self._stage_changes, now=self._wall_clock())
        self._state_pending = self._state_last = replace(metadata, timeline_recent=recent)
        if self._state_writer is None or self._state_writer.done():
            self._state_writer = self._spawn(self._write_states(), "state")

    async def _write_states(self) -> None:
        """Write the pending state until the sink has it, with the broadcast's backoff between
        failed attempts. A failure is retried, not left to the next metadata change: a page on a
        scheduled Space learns the start from state.json alone (web/src/start_watch.ts), and a
        live Space's metadata may not change again for its whole length."""
        sink = self._state_sink
        failures = 0
        while sink is not None and self._state_pending is not None:
            metadata, self._state_pending = self._state_pending, None
            name = names.BROADCAST_STATE
            headers = cache_headers(name, closed=metadata.state == "ended")
            self._state_asked += 1
            try:
                await asyncio.to_thread(
                    self._store_state,
                    sink,
                    self._state_asked,
                    f"{self.space_id}/{name}",
                    metadata.to_json().encode(),
                    headers,
                )
                failures = 0
            except Exception as exc:  # any sink failure: written again (or a newer state) after a wait
                failures += 1
                if failures & (failures - 1) == 0:  # attempts 1, 2, 4, 8...: a long outage, not a log flood
                    logger.warning(
                        "could not write %s for %s (attempt %d): %s", name, self.space_id, failures, exc
                    )
                if self._state_pending is None:
                    self._state_pending = metadata
                await asyncio.sleep(self.config.retry.delay(failures))

    def _store_state(self, sink: Sink, order: int, key: str, body: bytes, headers: dict[str, str]) -> None:
        """One state.json write, in a worker thread, unless a later one is stored already. The state
        changes with every new holder of the stage, so one is often under way as the Space ends;
        cancelling its task does not stop its thread, and the end written after it must stay."""
        with self._state_lock:
            if order <= self._state_stored:
                return
            sink.write(
                key, body, content_type=headers["Content-Type"], cache_control=headers["Cache-Control"]
            )
            self._state_stored = order

    def _track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            return
        if publication.source == MIC:
            if self._on_stage(participant.identity):
                self._mic_wanted.add(publication.sid)
                publication.set_subscribed(True)
        elif publication.source in (CAMERA, SCREEN):
            self._sync_camera()
            self._relayout()

    def _track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        self._forget(publication)
        self._relayout()

    def _forget(self, publication: rtc.TrackPublication) -> None:
        if publication.source == MIC:
            self._mic_wanted.discard(publication.sid)
            if self._mics is not None:
                self._mics.close(publication.sid)
                self._mixer.remove(publication.sid)
        elif publication.source in (CAMERA, SCREEN):
            self._camera_wanted.discard(publication.sid)
            self._layers.pop(publication.sid, None)
            self._give_ups.pop(publication.sid, None)
            self._release(publication.sid)

    def _track_subscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if publication.source == MIC and track.kind == rtc.TrackKind.KIND_AUDIO:
            assert self._mics is not None
            if publication.sid not in self._mic_wanted:
                publication.set_subscribed(False)  # left the stage while the answer was on its way
                return
            self._mics.open(publication.sid, track)
        elif publication.source in (CAMERA, SCREEN) and track.kind == rtc.TrackKind.KIND_VIDEO:
            if publication.sid not in self._camera_wanted:
                publication.set_subscribed(False)  # a late answer to a request we have withdrawn
                return
            self._give_ups.pop(publication.sid, None)  # it came: the next deadline is the first again
            renewed = self._renewing.pop(publication.sid, None)
            self._release(publication.sid)
            camera = _Camera(
                identity=participant.identity,
                sid=publication.sid,
                source=_source(publication.source),
                full_height=publication.height,
                simulcast=publication.simulcasted,
                warm_start=self._layers.get(publication.sid) == "low",
            )
            if renewed is not None:  # subscribed afresh: its picture stays until the first new one
                camera.frame, camera.frame_at, camera.frame_height = (
                    renewed.frame,
                    renewed.frame_at,
                    renewed.frame_height,
                )
            camera.task = self._spawn(self._read_camera(camera, track), f"camera-{participant.identity}")
            self._held[publication.sid] = camera
            self._ask_layer(publication, self._layers.get(publication.sid, "high"))
            self._show(self._wanted_video())

    def _track_unsubscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if publication.source == MIC and self._mics is not None:
            self._mics.close(publication.sid)
            self._mixer.remove(publication.sid)
        elif publication.source in (CAMERA, SCREEN):
            renewing = self._renewing.get(publication.sid)
            if renewing is not None:
                # The renewal's own unsubscribe (_await_full), which the SDK reports itself as it
                # sends it, not the SFU's doing: subscribed again RESUBSCRIBE_GAP_S from now.
                self._release(publication.sid, keep_shown=True)
                self._spawn(self._resubscribe_renewed(renewing), f"resubscribe-{participant.identity}")
                return
            self._release(publication.sid)
        self._lost(publication.sid)

    def _subscription_failed(self, participant: rtc.RemoteParticipant, track_sid: str, error: str) -> None:
        logger.warning("subscribing to %s of %s failed: %s", track_sid, participant.identity, error)
        self._lost(track_sid)

    def _lost(self, sid: str) -> None:
        """A microphone or video dropped or refused without our asking: asked for again shortly
        (media_agent/subscriptions.py)."""
        self._resubscribe.lost(sid, self._mic_wanted, self._camera_wanted)

    def _sync_tracks(self) -> None:
        """Ask for every stage microphone and the wanted video that is not held."""
        self._sync_microphones()
        self._sync_camera()

    def _mute_changed(self, participant: rtc.Participant, publication: rtc.TrackPublication) -> None:
        if publication.source in (CAMERA, SCREEN):
            self._relayout()

    # -- the stage -----------------------------------------------------------------------------------

    def _refresh_stage(self) -> None:
        """Take the newest stage published by an agent; switch the camera and record a change."""
        best: StageState | None = None
        best_from: str | None = None
        agents: set[str] = set()
        for participant in self._room.remote_participants.values():
            if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                continue  # an attribute on a person proves nothing (web/src/media.ts does the same)
            agents.add(participant.identity)
            stage = parse_stage(participant.attributes.get(names.STAGE_ATTRIBUTE))
            if stage is not None and (best is None or stage.seq > best.seq):
                best, best_from = stage, participant.identity
        # A lower seq is stale while the agent that published the current stage is here. Once it
        # has left, the newest present agent's stage is the truth whatever its seq: a successor
        # that found no predecessor counts from its own clock, which may be behind (the web page
        # forgets a departed agent's seq the same way).
        current_here = self._stage_from in agents
        if not current_here and self._stage is not None and self._stage.speaking:
            # Its agent is gone: the spotlight stays until a successor's stage comes (no blank big
            # tile), but who it heard talking is over; no ring stays lit while no agent listens.
            self._stage = replace(self._stage, speaking=())
        if best is None or (self._stage is not None and best.seq <= self._stage.seq and current_here):
            return
        self._stage, self._stage_from = best, best_from
        self._sync_camera()
        self._record()

    def _record(self) -> None:
        stage = self._stage
        if stage is None or self._feeder is None:
            return
        holders = (stage.spotlight, stage.video_spotlight, stage.pinned)
        if holders == self._recorded:
            return
        self._recorded = holders
        now = self._wall_clock()
        entry = {
            "t": now,
            "spotlight": stage.spotlight,
            "video_spotlight": stage.video_spotlight,
            "pinned": stage.pinned,
            "names": {s.identity: layouts.display_name(s.identity, s.name) for s in self._speakers()},
        }
        self._feeder.stage(entry)
        # HLS viewers learn it from state.json, and show it once their player gets to `t`.
        change = TimelineEntry(
            t=now,
            spotlight=stage.spotlight,
            video_spotlight=stage.video_spotlight,
            pinned=stage.pinned,
        )
        self._stage_changes = (*self._stage_changes, change)[-(TIMELINE_RECENT_MAX + 1) :]
        if self._state_last is not None:
            self._publish_state(self._state_last)

    def _speakers(self) -> list[layouts.Speaker]:
        out = []
        for p in self._room.remote_participants.values():
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT or not self._on_stage(p.identity):
                continue
            publications = list(p.track_publications.values())
            role = p.attributes.get(names.ROLE_ATTRIBUTE, "")
            # Anyone publishing a microphone is on stage (listeners cannot publish), whatever the
            # attribute says.
            if role not in STAGE_ROLES:
                if not any(pub.source == MIC for pub in publications):
                    continue
                role = "speaker"
            has_camera = any(pub.source == CAMERA and not pub.muted for pub in publications)
            has_screen = any(pub.source == SCREEN and not pub.muted for pub in publications)
            out.append(
                layouts.Speaker(
                    identity=p.identity,
                    name=p.name,
                    role=role,
                    has_camera=has_camera,
                    has_screen=has_screen,
                    picture=self._metadata.pictures.get(p.identity, ""),
                )
            )
        return out

    def _relayout(self) -> None:
        self._layout = layouts.compose(
            self._stage,
            self._speakers(),
            title=self._metadata.title,
            video=self._metadata.video,
            geometry=self._geometry,
            seated=self._metadata.seated,
        )

    # -- video: the shown track (a camera or a pinned screen share) and the warm cameras ---------

    def _wanted_video(self) -> tuple[str, VideoSource] | None:
        """(identity, source) of the video the big tile shows, or None."""
        if not self._video or self._stage is None or self._stage.video_spotlight is None:
            return None
        if not self._on_stage(self._stage.video_spotlight):
            return None
        return self._stage.video_spotlight, self._stage.video_source

    def _sync_camera(self) -> None:
        """Hold the video tracks composer/video.py names, each at its layer, and show the wanted one.

        Tracks no longer held go first, so a cold switch never holds two full pictures at once."""
        wanted = self._wanted_video()
        publications = {
            publication.sid: (participant.identity, publication)
            for participant in self._room.remote_participants.values()
            if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
            for publication in participant.track_publications.values()
            if publication.source in (CAMERA, SCREEN)
        }
        held = held_videos(
            (
                video.VideoTrack(
                    identity=identity,
                    sid=sid,
                    source=_source(publication.source),
                    simulcast=publication.simulcasted,
                    on_stage=self._on_stage(identity),
                )
                for sid, (identity, publication) in publications.items()
            ),
            wanted,
            warm=self._warm and self._video,  # an audio-only broadcast draws no camera
        )
        for sid, (identity, publication) in publications.items():
            if sid in held:
                continue
            if sid in self._camera_wanted or publication.subscribed:
                self._camera_wanted.discard(sid)
                self._layers.pop(sid, None)
                _let_go(publication, identity)
            self._release(sid)
        # Down before up: the old picture's top layer is let go before the new one's is asked for.
        for sid, layer in sorted(held.items(), key=lambda item: item[1] == "high"):
            if sid in self._cooling:
                continue  # let go after its subscription brought nothing; asked for when the gap ends
            identity, publication = publications[sid]
            newly = sid not in self._camera_wanted
            if newly:
                self._camera_wanted.add(sid)
                publication.set_subscribed(True)
                logger.info("%s subscribe %s", _kind(publication.source), identity)
            if layer == "high" and sid not in self._held and (newly or sid not in self._deadlines):
                self._watch_subscription(sid, identity)  # the shown video, not here yet
            if self._layers.get(sid) != layer:
                self._layers[sid] = layer
                logger.info("%s layer %s %s", _kind(publication.source), identity, layer)
                self._ask_layer(publication, layer)
            elif newly:  # asked for again (the SFU dropped it): with its layer, from the start
                self._ask_layer(publication, layer)
        self._show(wanted)

    def _ask_layer(self, publication: rtc.RemoteTrackPublication, layer: video.Layer) -> None:
        """Ask the SFU for a subscription's simulcast layer (a track without simulcast has one).
        Asked with the subscription (the SFU keeps it for a subscription being set up, so a warm
        camera does not start at its top layer) and again once subscribed (a request the SFU
        already applies is ignored)."""
        if publication.simulcasted:
            publication.set_video_quality(QUALITY[layer])

    def _show(self, wanted: tuple[str, VideoSource] | None) -> None:
        """Make the held track of `wanted` the shown one (None while its subscription is on its
        way): a warm camera's newest picture is drawn at once, before the next one arrives."""
        if wanted != self._switch_to:
            self._switch_to, self._switch_at = wanted, self._clock()
            self._switch_unseen = {"picture", "full"} if wanted is not None else set()
        camera = None
        if wanted is not None:
            # A camera being subscribed to afresh is still the one shown, with its last picture.
            cameras = [*self._held.values(), *self._renewing.values()]
            camera = next((c for c in cameras if (c.identity, c.source) == wanted), None)
        if camera is self._camera:
            return
        if self._camera is not None:
            # Its last drawn picture goes: shown again, it starts from its newest one.
            old = self._camera
            old.shown, old.frame, old.frame_at, old.frame_height = False, None, 0.0, 0
        self._camera = camera
        if camera is not None:
            camera.shown = True
            # A camera streaming when the switch came is judged from the switch; one subscribed warm
            # with no picture yet, from its first (_read_camera). A new subscription at the top layer
            # (cold) is already what a renewal would make.
            if camera.latest is not None:
                self._spawn(self._fit_into(camera, camera.latest, camera.latest_at), f"fit-{camera.identity}")
                self._check_full(camera, camera.latest.height)

    def _check_full(self, camera: _Camera, warm_lines: int) -> None:
        """Judge the shown `camera`, `warm_lines` high now, after the full-picture wait (_await_full)."""
        if not camera.simulcast or camera.source != "camera" or camera.sid in self._renewing:
            return
        if self._full_check is not None:
            self._full_check.cancel()
        self._full_check = self._spawn(self._await_full(camera, warm_lines), f"full-{camera.identity}")

    async def _await_full(self, camera: _Camera, warm_lines: int) -> None:
        """Subscribe afresh to a shown camera still at its warm layer (`warm_lines` high) and short of
        its full picture after the wait (settings.FULL_PICTURE_WAIT_ENV). A camera that moved up, even to a
        layer below its nominal size (a sender that scaled it down), is left alone."""
        await asyncio.sleep(self._full_wait)
        latest = camera.latest
        if camera is not self._camera or camera.sid in self._renewing or camera.sid not in self._held:
            return
        if self._renewed_at == self._switch_at:
            return  # once a switch: a camera that never sends its top layer is not renewed in a loop
        if latest is None or latest.height > warm_lines or latest.height * 10 >= camera.full_height * 9:
            return
        publication = self._publication(camera.sid)
        if publication is None:
            return
        logger.info(
            "video %s: no full picture %.2f s after the switch (%d lines); subscribing afresh",
            camera.identity,
            self._clock() - self._switch_at,
            latest.height,
        )
        self._renewing[camera.sid] = camera
        self._renewed_at = self._switch_at
        self._watch_subscription(camera.sid, camera.identity)
        # The SDK itself reports the track unsubscribed shortly (_track_unsubscribed), which
        # subscribes again RESUBSCRIBE_GAP_S later.
        publication.set_subscribed(False)

    async def _resubscribe_renewed(self, camera: _Camera) -> None:
        """The renewal's second step, RESUBSCRIBE_GAP_S after its unsubscribe was sent; nothing if
        that renewal is over (given up, or the camera let go) by then."""
        await asyncio.sleep(RESUBSCRIBE_GAP_S)
        sid = camera.sid
        publication = self._publication(sid)
        if self._renewing.get(sid) is not camera or sid not in self._camera_wanted or publication is None:
            return
        publication.set_subscribed(True)
        self._ask_layer(publication, self._layers.get(sid, "high"))

    def _watch_subscription(self, sid: str, identity: str) -> None:
        """Give the shown video's subscription, asked now, SUBSCRIPTION_DEADLINE_S to bring its
        track; its track (or letting it go) ends the watch (_release)."""
        old = self._deadlines.pop(sid, None)
        if old is not None:
            old.cancel()
        self._deadlines[sid] = self._spawn(self._subscription_deadline(sid, identity), f"deadline-{identity}")

    async def _subscription_deadline(self, sid: str, identity: str) -> None:
        """A subscription that brought no track in its deadline (SUBSCRIPTION_DEADLINE_S, doubled
        for each give-up in a row) is let go and asked for again RECOVERY_GAP_S later."""
        deadline = min(SUBSCRIPTION_DEADLINE_S * 2 ** self._give_ups.get(sid, 0), SUBSCRIPTION_DEADLINE_MAX_S)
        await asyncio.sleep(deadline)
        del self._deadlines[sid]  # this watch: it would have been cancelled otherwise
        if sid not in self._camera_wanted:
            return  # refused meanwhile: the resubscriber asks again (_lost)
        self._give_ups[sid] = self._give_ups.get(sid, 0) + 1
        logger.warning(
            "video %s: %s brought nothing in %.1f s; asking for it again",
            identity,
            "renewing its subscription" if sid in self._renewing else "its subscription",
            deadline,
        )
        self._camera_wanted.discard(sid)
        self._layers.pop(sid, None)
        self._release(sid)
        publication = self._publication(sid)
        if publication is not None:
            _let_go(publication, identity)  # held at no layer until it is asked for again
            self._cooling.add(sid)
            try:
                await asyncio.sleep(RECOVERY_GAP_S)
            finally:
                self._cooling.discard(sid)
        self._sync_camera()

    def _publication(self, sid: str) -> rtc.RemoteTrackPublication | None:
        for participant in self._room.remote_participants.values():
            publication = participant.track_publications.get(sid)
            if publication is not None:
                return publication
        return None

    def _release(self, sid: str, *, keep_shown: bool = False) -> None:
        """Stop reading a video track (unsubscribed, unpublished or no longer held). `keep_shown`:
        being subscribed to afresh, its last picture stays in the big tile meanwhile."""
        camera = self._held.pop(sid, None)
        if not keep_shown:
            # Its renewal, and the wait for a subscription's track, are over (a track came, or none
            # is wanted any more).
            self._renewing.pop(sid, None)
            deadline = self._deadlines.pop(sid, None)
            if deadline is not None:
                deadline.cancel()
            if self._camera is not None and self._camera.sid == sid:
                self._camera = None
        if camera is None:
            return
        if camera.task is not None:
            camera.task.cancel()

    async def _read_camera(self, camera: _Camera, track: rtc.Track) -> None:
        # capacity=1: when drawing falls behind, only the newest picture matters.
        stream = rtc.VideoStream(track, capacity=1)
        try:
            async for event in stream:
                previous = camera.latest
                if previous is None or previous.height != event.frame.height:
                    # Rare (a change of simulcast layer): the tests and the benchmark read it.
                    logger.info(
                        "video %s: pictures of %dx%d", camera.identity, event.frame.width, event.frame.height
                    )
                camera.latest, camera.latest_at = event.frame, self._clock()
                if camera.shown:  # a warm camera's pictures are kept, not drawn
                    if previous is None and camera.warm_start:
                        # Shown before it sent anything: this picture is at its warm layer (_show).
                        self._check_full(camera, event.frame.height)
                    await self._fit_into(camera, event.frame, camera.latest_at)
        finally:
            await stream.aclose()

    async def _fit_into(self, camera: _Camera, frame: rtc.VideoFrame, received_at: float) -> None:
        # Conversion and scaling take milliseconds a frame at 720p: off the event loop, which also
        # receives every microphone and runs the pacer.
        fitted = await asyncio.to_thread(self._fit_camera, frame)
        # Not hidden meanwhile (its picture is dropped then), nor overtaken by a newer picture.
        if camera.shown and received_at >= camera.frame_at:
            camera.frame, camera.frame_at, camera.frame_height = fitted, received_at, frame.height

    def _fit_camera(self, frame: rtc.VideoFrame) -> np.ndarray:
        """A received frame as RGB pixels fitted to the big tile (any thread)."""
        rgb = frame.convert(rtc.VideoBufferType.RGB24)
        pixels = np.frombuffer(rgb.data, dtype=np.uint8).reshape(rgb.height, rgb.width, 3)
        fitted = self._renderer.fit_camera(pixels)
        return fitted.copy() if fitted is pixels else fitted

    # -- audio --------------------------------------------------------------------------------------

    def _on_mic_frame(self, sid: str, pcm: np.ndarray, sample_rate: int) -> None:
        if sample_rate != self._mixer.sample_rate:
            return  # MicStreams resamples to the rate we asked for; anything else is not ours
        self._mixer.push(sid, pcm)

    # -- pacing -------------------------------------------------------------------------------------

    def _frame(self) -> np.ndarray:
        layout = self._layout
        assert layout is not None
        now = self._clock()
        picture = big_tile_picture(self._camera, layout.big, now)
        if picture is not None and self._switch_unseen:
            self._note_switch(now)
        return self._renderer.render(layout, picture)

    def _note_switch(self, now: float) -> None:
        """Log how long after the switch the big tile drew its video's first picture, and its first
        full-size one (a warm camera's first is from its lowest layer)."""
        camera = self._camera
        if camera is None or (camera.identity, camera.source) != self._switch_to:
            return
        waited = now - self._switch_at
        if "picture" in self._switch_unseen:
            self._switch_unseen.discard("picture")
            logger.info(
                "video %s: first picture %.3f s after the switch (%d lines)",
                camera.identity,
                waited,
                camera.frame_height,
            )
        if camera.frame_height * 10 >= camera.full_height * 9:
            self._switch_unseen.discard("full")
            logger.info(
                "video %s: full picture %.3f s after the switch (%d lines)",
                camera.identity,
                waited,
                camera.frame_height,
            )

    async def _pace(self) -> None:
        """Audio chunks and video frames on the wall clock, in time order, to the feeder (pacing.py)."""
        feeder = self._feeder
        assert feeder is not None
        schedule = Schedule(
            Fraction(self._mixer.chunk_samples, self._mixer.sample_rate),
            self.config.fps if self.config.video else None,
        )
        start = self._clock()
        while True:
            if feeder.failed is not None:
                # The encoder is gone: end this job so that a replacement continues the playlist.
                self._give_up(f"broadcast failed: {feeder.failed!r}")
                return
            frame: np.ndarray | None = None
            for step in schedule.steps(self._clock() - start, feeder.backlog_s):
                if step.kind == "audio":
                    feeder.audio(self._mixer.pull())
                    self.chunks += 1
                elif step.kind == "video":
                    if frame is None:
                        frame = self._frame()
                    feeder.video(frame)
                    self.frames += 1
                else:
                    # Starved: the same span of audio and video is dropped, and the broadcast told,
                    # whose PROGRAM-DATE-TIME would otherwise fall behind the clock.
                    self.dropped_s += step.seconds
                    feeder.skip(step.seconds)
                    self._tell_starved(step.seconds)
            await asyncio.sleep(max(0.0, start + schedule.next_due() - self._clock()))

    async def _watch(self) -> None:
        """End the job when the broadcast stalls or the room stays away too long (watchdog.py)."""
        watchdog, feeder = self._watchdog, self._feeder
        assert watchdog is not None and feeder is not None
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            now = self._clock()
            watchdog.published(feeder.broadcast.stats.playlists_written, now)
            watchdog.superseded = feeder.broadcast.superseded
            reason = watchdog.verdict(now)
            if reason is None:
                continue
            self._fenced = watchdog.fenced(now)
            self._give_up(reason)
            return

    def _give_up(self, reason: str) -> None:
        """End this job because its broadcast is not what viewers get; a replacement takes over.

        The reconciler dispatches the replacement 20-30 s later and it reads the playlists as they
        are then, so this job writes none from now on, even in its closing flush (which can take
        longer than that when the sink is slow): two writers of one playlist could give one
        media sequence number two URIs. Segments still queued are written but not listed; the
        replacement starts its part after a discontinuity.
        """
        if self._gave_up:
            return
        self._gave_up = True
        logger.error("composer %s gives up: %s", self.space_id, reason)
        if self._feeder is not None:
            self._feeder.broadcast.hold_playlists(True)
        if self._on_failure is not None:
            self._on_failure(reason)

    def _tell_starved(self, seconds: float) -> None:
        """An ERROR line at most every STARVED_LOG_EVERY_S while spans are dropped: viewers hear
        cuts and the broadcast falls behind live. Sustained, the lines reach the composer errors
        alarm (10 in 5 minutes); one stall of a loaded moment stays one line."""
        self._unreported_drop_s += seconds
        now = self._clock()
        if self._starved_logged_at is not None and now - self._starved_logged_at < STARVED_LOG_EVERY_S:
            return
        logger.error(
            "broadcast %s starved (CPU): dropped %.1f s of audio and video since the last report, "
            "%.1f s in all; viewers hear cuts",
            self.space_id,
            self._unreported_drop_s,
            self.dropped_s,
        )
        self._starved_logged_at = now
        self._unreported_drop_s = 0.0

    async def _stats_loop(self, every: float) -> None:
        assert self._feeder is not None
        while True:
            await asyncio.sleep(every)
            logger.info(
                "composer stats %s",
                {
                    "space": self.space_id,
                    "frames": self.frames,
                    "chunks": self.chunks,
                    "backlog_s": round(self._feeder.backlog_s, 2),
                    "dropped_s": round(self.dropped_s, 2),
                    "underruns": self._mixer.underruns,
                    "tracks": len(self._mixer.tracks),
                },
            )

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{name}-{self._room.name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        logger.error("composer task %s failed", task.get_name(), exc_info=task.exception())
        # Pacing feeds the encoder: without it the broadcast stands still while the job looks
        # alive, so nothing would replace it; without the watchdog nothing notices a stall or a
        # lost room. End the job; a replacement continues the playlist.
        essential = (f"{PACE_TASK}-", f"{WATCHDOG_TASK}-")
        if task.get_name().startswith(essential):
            self._give_up(f"broadcast stopped: {task.exception()!r}")


# -- the worker ----------------------------------------------------------------------------------------


# True once a newer deployment of this worker's ECS service has taken over (media_agent/deployment.py).
_superseded = deployment.Superseded()

server = AgentServer(
    load_fnc=composer_load(os.environ, superseded=_superseded),  # type: ignore[arg-type]  # takes the server, typed by protocol
    load_threshold=LOAD_THRESHOLD,
    drain_timeout=DRAIN_TIMEOUT_S,
    max_retry=deployment.SFU_CONNECT_TRIES,
    port=deployment.server_option(HTTP_PORT_ENV, prod_default=DEFAULT_HTTP_PORT),
    num_idle_processes=deployment.server_option(IDLE_PROCESSES_ENV, prod_default=1),
    shutdown_process_timeout=SHUTDOWN_TIMEOUT_S,
    # Subscribes only. Hidden: the composer is not someone in the Space (no tile, not a listener).
    permissions=WorkerPermissions(
        can_publish=False, can_subscribe=True, can_publish_data=False, can_update_metadata=False, hidden=True
    ),
)


@server.on("worker_started")
def _ecs_task() -> None:
    """ECS scale-in protection while the worker holds a Space; standing aside when superseded.

    A broadcast lasts the whole Space; scaling in a busy task would cut its stream to a
    discontinuity and a replacement's start-up gap (no-op outside ECS, media_agent/ecs_task.py).
    """
    ecs_task.start(lambda: server.active_jobs, _superseded)


async def evict_predecessors(ctx: JobContext) -> None:
    """Remove other composers from the room: two composers writing one playlist would fight.

    The newest wins (as with the stage agent). A composer that was killed lingers as a participant
    until the SFU times it out; a live one is shut down by the removal and closes its broadcast
    without ENDLIST. This one then waits EVICT_GRACE_S before reading the playlist, so the evicted
    composer's last write is in what it continues (an EVENT playlist never loses a segment).
    """
    me = ctx.room.local_participant.identity
    evicted = False
    listing = await ctx.api.room.list_participants(api.ListParticipantsRequest(room=ctx.room.name))
    for participant in listing.participants:
        if participant.identity == me or participant.kind != api.ParticipantInfo.Kind.AGENT:
            continue
        if participant.attributes.get(ATTRIBUTE_AGENT_NAME) != names.COMPOSER_AGENT_NAME:
            continue
        logger.info("evicting previous composer %s", participant.identity)
        try:
            await ctx.api.room.remove_participant(
                api.RoomParticipantIdentity(room=ctx.room.name, identity=participant.identity)
            )
            evicted = True
        except Exception:  # it may have left on its own meanwhile
            logger.warning("could not evict %s", participant.identity, exc_info=True)
    if evicted:
        await asyncio.sleep(EVICT_GRACE_S)


@server.rtc_session(agent_name=names.COMPOSER_AGENT_NAME)
async def composer_agent(ctx: JobContext) -> None:
    # `kill -USR1 <job pid>` prints every thread's stack: the way to see a stuck encoder in production.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
    await evict_predecessors(ctx)
    room_name = ctx.room.name

    async def room_exists() -> bool:
        # Its own client: at shutdown the job's shared HTTP session may already be closed.
        lkapi = api.LiveKitAPI()  # LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET
        try:
            listing = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room_name]))
        finally:
            await lkapi.aclose()
        return any(room.name == room_name for room in listing.rooms)

    sink = kept_or_discarded(settings.sink_from_env(os.environ), parse_room_metadata(ctx.room.metadata))
    composer = RoomComposer(
        ctx.room,
        open_broadcast=resume_in(sink, newest=ctx.room.isconnected),
        state_sink=sink,
        env=os.environ,
        room_exists=room_exists,
        on_failure=ctx.shutdown,
    )
    ctx.add_shutdown_callback(composer.aclose)
    try:
        await composer.start()
    except BroadcastEnded as exc:
        logger.warning("nothing to compose for %s: %s", composer.space_id, exc)
        ctx.shutdown("broadcast already ended")
