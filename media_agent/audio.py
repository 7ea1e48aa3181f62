"""Decoded microphone audio of every track in this job process, through one SDK event subscription.

Why not `rtc.AudioStream`: each AudioStream subscribes to the SDK's process-wide FFI event queue
and is handed every audio event of every stream (it compares the stream handle only after the
hand-over), so with N microphones each frame is handed to N asyncio tasks, N-1 of which drop it:
O(N^2) per process. Here one subscription keeps only the events of our own streams (the handle is
checked in the SDK's callback thread, before anything is scheduled) and calls the consumer
synchronously, so a frame costs one hand-over whatever the number of tracks.

This uses the SDK's FFI layer (`livekit.rtc._ffi_client`, `_proto`), the same requests
`rtc.AudioStream` sends; the SDK version is pinned by uv.lock, and tests/integration/agent runs it
against a real server. bench/agent/live_cost.py measures the difference.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Callable

import numpy as np
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient, FfiHandle
from livekit.rtc._proto import audio_frame_pb2 as proto_audio
from livekit.rtc._proto import ffi_pb2 as proto_ffi

logger = logging.getLogger("media_agent.audio")

# Called on the event loop with (key, mono int16 samples, sample rate) for every decoded frame.
FrameSink = Callable[[str, np.ndarray, int], None]


class MicStreams:
    """Decoded, resampled audio of remote tracks, routed by stream handle to one callback."""

    def __init__(self, sink: FrameSink, *, sample_rate: int, frame_ms: int) -> None:
        self._sink = sink
        self._sample_rate = sample_rate
        self._frame_ms = frame_ms
        self._keys: dict[int, str] = {}  # stream handle -> key (read from the SDK callback thread)
        self._handles: dict[str, FfiHandle] = {}
        self._queue = FfiClient.instance.queue.subscribe(asyncio.get_running_loop(), filter_fn=self._ours)
        self._task = asyncio.create_task(self._dispatch(), name="mic-streams")

    def _ours(self, event: proto_ffi.FfiEvent) -> bool:
        return (
            event.WhichOneof("message") == "audio_stream_event"
            and event.audio_stream_event.stream_handle in self._keys
        )

    def open(self, key: str, track: rtc.Track) -> None:
        """Decode `track` (a remote audio track) and deliver its frames under `key`."""
        self.close(key)
        req = proto_ffi.FfiRequest()
        new = req.new_audio_stream
        new.track_handle = track._ffi_handle.handle
        new.sample_rate = self._sample_rate
        new.num_channels = 1
        new.queue_size_frames = 0
        new.frame_size_ms = self._frame_ms
        new.type = proto_audio.AudioStreamType.AUDIO_STREAM_NATIVE
        stream = FfiClient.instance.request(req).new_audio_stream.stream
        handle = FfiHandle(stream.handle.id)
        self._keys[handle.handle] = key
        self._handles[key] = handle

    def close(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            self._keys.pop(handle.handle, None)
            handle.dispose()

    async def _dispatch(self) -> None:
        while True:
            event = (await self._queue.get()).audio_stream_event
            key = self._keys.get(event.stream_handle)
            if event.HasField("frame_received"):
                owned = event.frame_received.frame
                info = owned.info
                samples = info.num_channels * info.samples_per_channel
                pcm = np.frombuffer(ctypes.string_at(info.data_ptr, 2 * samples), dtype=np.int16)
                FfiHandle(owned.handle.id).dispose()  # the native buffer, copied just above
                if key is not None:
                    try:
                        self._sink(key, pcm, info.sample_rate)
                    except Exception:  # one bad frame must not stop every microphone of the room
                        logger.exception("frame sink failed for %s", key)
            elif event.HasField("eos") and key is not None:
                self.close(key)

    async def aclose(self) -> None:
        for key in list(self._handles):
            self.close(key)
        FfiClient.instance.queue.unsubscribe(self._queue)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
