"""Baselines fed exactly like the engine (same replay path, same frames and events).

They share `PacketEngine`: audio is cut into 20 ms packets with an RFC 6464 level, as a client
sends it; muted packets are never seen (an SFU receives nothing from a muted track); pins and
cameras go through the engine's own StageComposer, so only the choice of dominant speaker differs.
"""

from bench.spotlight.baselines.jitsi import JitsiDominantSpeaker
from bench.spotlight.baselines.livekit import LiveKitActiveSpeakers
from bench.spotlight.baselines.loudest import LoudestSpeaker

__all__ = ["JitsiDominantSpeaker", "LiveKitActiveSpeakers", "LoudestSpeaker"]
