"""Encode pushed frames and samples with FFmpeg (PyAV) and cut them into MPEG-TS segments.

The encoders live for the whole broadcast, so timestamps run on across segments; each segment is
its own small MPEG-TS file muxed in memory by FFmpeg's mpegts muxer, starting with a keyframe (with
its SPS/PPS in band) and a PAT/PMT, so any segment decodes on its own; its continuity counters run
on from the segment before, so the segments also read as one stream. A video broadcast with a low
rendition (`BroadcastConfig.low`) encodes every picture twice, scaled down for the second encoder,
and muxes the same audio packets into both segments of a pair, cut at the same frame, and into a
third segment of those packets alone (`BroadcastConfig.audio_twin`). Timestamps
come from frame and sample counts, never from the wall clock, which keeps audio and video in sync;
audio that is pushed later than its pictures (`BroadcastConfig.audio_lag`) loses that much of its
start instead.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.audio.stream import AudioStream
from av.packet import Packet
from av.stream import Stream
from av.video.frame import PictureType
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from av.video.stream import VideoStream

from composer.hls.config import BroadcastConfig
from composer.hls.continuity import ContinuityCounters, mark_discontinuity
from composer.hls.playlist import avc_codec
from composer.hls.stats import StatsRecorder

AAC_FRAME = 1024  # samples per AAC-LC frame
# MPEG-TS timestamps start here rather than at 0: the AAC encoder's priming frame is stamped
# 1024 samples before the first input sample, and a negative timestamp would make FFmpeg shift
# only the first segment, breaking continuity with the next one.
TS_OFFSET_S = 1
# libavformat's default max_delay of 0 makes the mpegts muxer put every ~170-byte AAC frame in its
# own PES, two 188-byte TS packets each: 2.3x the audio bitrate. Allowing 0.7 s (the ffmpeg CLI's
# default) lets it pack up to 0.35 s of audio per PES; the timestamps shift by a constant.
_MPEGTS_OPTIONS = {"max_delay": "700000"}
# The composed RGB picture is converted to YUV with the BT.709 matrix in limited range (HD video's
# colours), and the stream says so (the SPS's colour description). Unsaid, each decoder guesses:
# FFmpeg takes BT.601 at any size, Chromium BT.709 for HD, so swscale's default (BT.601) conversion
# was shown shifted in the page (red 220,40,40 as 236,58,40; tests/e2e/test_hls_colours.py).
_COLOURS = {
    "colorspace": Colorspace.ITU709,
    "color_range": ColorRange.MPEG,
    "color_primaries": ColorPrimaries.BT709,
    "color_trc": ColorTrc.BT709,
}


@dataclass(frozen=True)
class EncodedSegment:
    index: int  # 0, 1, 2, ... within this encoder
    data: bytes  # a complete MPEG-TS file
    start_s: float  # media time of its first sample, from the encoder's start
    duration_s: float
    low: bytes | None = None  # the same media in the low rendition (None: the broadcast has none)
    audio: bytes | None = None  # its sound alone, the same AAC packets (None: no audio rendition)


@dataclass
class _Pending:
    packet: Packet
    ticks: int  # pts in the stream's own time base (frames or samples)
    seconds: Fraction  # decode time, for interleaving
    # The encoder's dts: muxing rebases a packet's timestamps, and an audio packet is muxed into
    # both segments of a pair, so each mux stamps it afresh from `ticks` and this.
    dts: int | None


class SegmentEncoder:
    """H.264 (libx264) + AAC, or AAC only; returns each segment once it is complete."""

    def __init__(self, config: BroadcastConfig, stats: StatsRecorder) -> None:
        self.config = config
        self._stats = stats
        # The streams of a throwaway container hold the encoders: a segment's streams are created
        # from them as templates (codec parameters, AAC's AudioSpecificConfig for ADTS in TS).
        self._template = av.open(io.BytesIO(), "w", format="mpegts")
        self._video: VideoStream | None = None
        self._low: VideoStream | None = None
        if config.video:
            self._video = self._add_video(config.width, config.height, config.video_bitrate)
        if config.low is not None:
            self._low = self._add_video(config.low.width, config.low.height, config.low.video_bitrate)
        self._audio: AudioStream = self._template.add_stream("aac", rate=config.sample_rate, layout="mono")
        self._audio.bit_rate = config.audio_bitrate
        self._template.start_encoding()

        self._frames = 0  # video frames pushed
        self._samples = 0  # audio samples handed to the encoder
        self._lag_left = config.audio_lag_samples  # pushed samples still to drop (config.audio_lag)
        self._pcm = np.zeros(0, dtype=np.int16)  # pushed samples not yet a whole AAC frame
        self._pending_video: list[_Pending] = []
        self._pending_low: list[_Pending] = []
        self._pending_audio: list[_Pending] = []
        self._video_end = 0  # frames encoded (pts + 1 of the last video packet)
        self._audio_end = 0  # samples encoded (pts + duration of the last audio packet)
        self._index = 0
        self._counters = ContinuityCounters()
        self._low_counters = ContinuityCounters()
        self._audio_counters = ContinuityCounters()
        # RFC 6381 codec strings of the video encoders, read from their first parameter sets.
        self.video_codec: str | None = None
        self.low_codec: str | None = None
        self._segment_start = Fraction(0)
        self._closed = False

    def _add_video(self, width: int, height: int, bitrate: int) -> VideoStream:
        cfg = self.config
        stream = self._template.add_stream(
            "libx264",
            rate=cfg.fps,
            options={
                "preset": cfg.x264_preset,
                "tune": "zerolatency",
                # One keyframe per segment, exactly on the boundary, never in between.
                "g": str(cfg.frames_per_segment),
                "keyint_min": str(cfg.frames_per_segment),
                "sc_threshold": "0",
                # CBR-like: the VBV caps every second at the target rate, so a segment's size
                # (and a viewer's bandwidth) is predictable.
                "maxrate": str(bitrate),
                "bufsize": str(bitrate),
            },
        )
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.thread_count = cfg.encoder_threads
        for name, value in _COLOURS.items():
            setattr(stream.codec_context, name, value)
        stream.time_base = Fraction(1, cfg.fps)
        return stream

    # -- input ---------------------------------------------------------------------------------

    def push_video(self, rgb: np.ndarray) -> list[EncodedSegment]:
        if self._video is None:
            raise ValueError("this broadcast is audio-only (BroadcastConfig.video=False): no video frames")
        self._check_open()
        expected = (self.config.height, self.config.width, 3)
        if rgb.shape != expected or rgb.dtype != np.uint8:
            raise ValueError(f"video frame must be uint8 of shape {expected}, got {rgb.dtype} {rgb.shape}")
        with self._stats.stage("convert_video"):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p",
                dst_colorspace=_COLOURS["colorspace"],
                dst_color_range=_COLOURS["color_range"],
                dst_color_primaries=_COLOURS["color_primaries"],
                dst_color_trc=_COLOURS["color_trc"],
            )
        keyframe = self._frames % self.config.frames_per_segment == 0
        self._stamp(frame, keyframe)
        with self._stats.stage("encode_video"):
            packets = self._video.encode(frame)
        self._take_video(packets, self._pending_video)
        if self._low is not None:
            # Scaled from the converted picture (4:2:0 to 4:2:0, the colours already BT.709), which
            # costs a quarter of converting the RGB picture again.
            with self._stats.stage("scale_low"):
                small = frame.reformat(width=self._low.width, height=self._low.height, interpolation="AREA")
            self._stamp(small, keyframe)
            with self._stats.stage("encode_low"):
                packets = self._low.encode(small)
            self._take_video(packets, self._pending_low)
        self._frames += 1
        return self._cut_ready()

    def _stamp(self, frame: av.VideoFrame, keyframe: bool) -> None:
        frame.pts = self._frames
        frame.time_base = Fraction(1, self.config.fps)
        if keyframe:
            frame.pict_type = PictureType.I

    def push_audio(self, pcm: np.ndarray) -> list[EncodedSegment]:
        self._check_open()
        if pcm.ndim != 1 or pcm.dtype != np.int16:
            raise ValueError(f"audio must be mono int16 samples (1-D), got {pcm.dtype} shape {pcm.shape}")
        if self._lag_left:
            # Dropped rather than stamped early: no timestamp before the first frame's, and the
            # segments' audio still starts with their pictures.
            cut = min(self._lag_left, len(pcm))
            pcm, self._lag_left = pcm[cut:], self._lag_left - cut
        self._pcm = np.concatenate((self._pcm, pcm))
        whole = len(self._pcm) // AAC_FRAME * AAC_FRAME
        if whole == 0:
            return []
        chunk, self._pcm = self._pcm[:whole], self._pcm[whole:]
        with self._stats.stage("encode_audio"):
            packets: list[Packet] = []
            for start in range(0, whole, AAC_FRAME):
                packets += self._audio.encode(self._audio_frame(chunk[start : start + AAC_FRAME]))
        self._take_audio(packets)
        return self._cut_ready()

    def flush(self) -> list[EncodedSegment]:
        """Drain the encoders; the rest becomes the last segment (shorter than the others)."""
        self._check_open()
        self._closed = True
        if len(self._pcm):
            padded = np.zeros(AAC_FRAME, dtype=np.int16)
            padded[: len(self._pcm)] = self._pcm
            self._pcm = np.zeros(0, dtype=np.int16)
            with self._stats.stage("encode_audio"):
                self._take_audio(self._audio.encode(self._audio_frame(padded)))
        with self._stats.stage("encode_audio"):
            self._take_audio(self._audio.encode(None))
        if self._video is not None:
            with self._stats.stage("encode_video"):
                self._take_video(self._video.encode(None), self._pending_video)
        if self._low is not None:
            with self._stats.stage("encode_low"):
                self._take_video(self._low.encode(None), self._pending_low)
        segments = self._cut_ready()
        if self._pending_video or self._pending_audio:
            end = max(
                Fraction(self._video_end, self.config.fps),
                Fraction(self._audio_end, self.config.sample_rate),
            )
            if self._video is not None:
                # Audio that ran ahead of the pictures (a feeder starved of frames) would make the
                # last segment longer than the target duration, which a playlist may never raise
                # (RFC 8216 6.2.1): the stream ends with its pictures, at most one segment on.
                one_segment = Fraction(self.config.frames_per_segment, self.config.fps)
                end = min(end, self._segment_start + one_segment)
                self._pending_audio = [p for p in self._pending_audio if p.seconds < end]
            segments.append(self._mux(self._pending_video, self._pending_low, self._pending_audio, end))
            self._pending_video, self._pending_low, self._pending_audio = [], [], []
        self._template.close()
        return segments

    # -- segmenting ----------------------------------------------------------------------------

    def _audio_frame(self, samples: np.ndarray) -> av.AudioFrame:
        floats = (samples.astype(np.float32) / 32768.0).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(floats, format="fltp", layout="mono")
        frame.sample_rate = self.config.sample_rate
        frame.pts = self._samples
        frame.time_base = Fraction(1, self.config.sample_rate)
        self._samples += len(samples)
        return frame

    def _take_video(self, packets: list[Packet], pending: list[_Pending]) -> None:
        for p in packets:
            assert p.pts is not None and p.dts is not None
            pending.append(_Pending(p, p.pts, Fraction(p.dts, self.config.fps), p.dts))
            if pending is self._pending_video:
                self._video_end = max(self._video_end, p.pts + 1)
                self.video_codec = self.video_codec or avc_codec(bytes(p))
            else:
                self.low_codec = self.low_codec or avc_codec(bytes(p))

    def _take_audio(self, packets: list[Packet]) -> None:
        for p in packets:
            assert p.pts is not None
            self._pending_audio.append(_Pending(p, p.pts, Fraction(p.pts, self.config.sample_rate), p.dts))
            self._audio_end = max(self._audio_end, p.pts + (p.duration or AAC_FRAME))

    def _cut_ready(self) -> list[EncodedSegment]:
        out: list[EncodedSegment] = []
        while (segment := self._cut_one()) is not None:
            out.append(segment)
        return out

    def _cut_one(self) -> EncodedSegment | None:
        cfg = self.config
        if self._video is not None:
            # Cut when the next segment's keyframe is encoded and the audio has caught up; audio
            # more than a segment late is not waited for (it then lands in the next segment).
            boundary = (self._index + 1) * cfg.frames_per_segment
            audio_boundary = (self._index + 1) * cfg.samples_per_segment
            if not any(p.ticks >= boundary for p in self._pending_video):
                return None
            if self._low is not None and not any(p.ticks >= boundary for p in self._pending_low):
                return None
            if self._audio_end < audio_boundary and self._video_end < boundary + cfg.frames_per_segment:
                return None
            video = [p for p in self._pending_video if p.ticks < boundary]
            low = [p for p in self._pending_low if p.ticks < boundary]
            audio = [p for p in self._pending_audio if p.ticks < audio_boundary]
            self._pending_video = [p for p in self._pending_video if p.ticks >= boundary]
            self._pending_low = [p for p in self._pending_low if p.ticks >= boundary]
            self._pending_audio = [p for p in self._pending_audio if p.ticks >= audio_boundary]
            return self._mux(video, low, audio, Fraction(boundary, cfg.fps))
        # Audio only: cut at the first AAC frame that starts on or after the boundary.
        audio_boundary = (self._index + 1) * cfg.samples_per_segment
        nxt = next((p for p in self._pending_audio if p.ticks >= audio_boundary), None)
        if nxt is None:
            return None
        audio = [p for p in self._pending_audio if p.ticks < nxt.ticks]
        self._pending_audio = [p for p in self._pending_audio if p.ticks >= nxt.ticks]
        return self._mux([], [], audio, Fraction(nxt.ticks, cfg.sample_rate))

    def _mux(
        self, video: list[_Pending], low: list[_Pending], audio: list[_Pending], end: Fraction
    ) -> EncodedSegment:
        with self._stats.stage("mux"):
            data = self._mux_one(self._video, video, audio, self._counters)
            low_data = audio_data = None
            if self._low is not None:
                low_data = self._mux_one(self._low, low, audio, self._low_counters)
            if self.config.audio_twin:
                audio_data = self._mux_one(None, [], audio, self._audio_counters)
        start = self._segment_start
        segment = EncodedSegment(self._index, data, float(start), float(end - start), low_data, audio_data)
        self._index += 1
        self._segment_start = end
        return segment

    def _mux_one(
        self,
        template: VideoStream | None,
        video: list[_Pending],
        audio: list[_Pending],
        counters: ContinuityCounters,
    ) -> bytes:
        buf = io.BytesIO()
        container = av.open(buf, "w", format="mpegts", container_options=_MPEGTS_OPTIONS)
        out_video = container.add_stream_from_template(template) if template is not None else None
        out_audio = container.add_stream_from_template(self._audio)
        tagged: list[tuple[_Pending, Stream | None, int]] = []
        tagged += [(p, out_video, self.config.fps) for p in video]
        tagged += [(p, out_audio, self.config.sample_rate) for p in audio]
        tagged.sort(key=lambda item: item[0].seconds)
        for pending, stream, rate in tagged:
            packet = pending.packet
            assert stream is not None
            packet.stream = stream
            packet.time_base = Fraction(1, rate)
            packet.pts = pending.ticks + TS_OFFSET_S * rate
            packet.dts = None if pending.dts is None else pending.dts + TS_OFFSET_S * rate
            container.mux(packet)
        container.close()
        data = counters.carry_on(buf.getvalue())
        if self._index == 0:
            # A new encoder's counters start afresh: after a takeover they jump.
            data = mark_discontinuity(data)
        return data

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the broadcast's encoder is flushed; nothing more can be pushed")
