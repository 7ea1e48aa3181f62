"""Child process of live_cost: N synthetic speakers publishing looped corpus audio in real time.

Kept out of the agent's process (and the benchmark's) so that the CPU measured is the agent's.
Prints "ready" once every microphone is published, then plays until --seconds have passed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from livekit import rtc

from bench.agent.common import Track, play, publish_mic, read_wav
from bench.spotlight import corpus
from tests.support.synthetic_speakers import join_token


def _voices() -> list[tuple[str, Path]]:
    """Every (conversation, speaker) WAV of the benchmark corpus: real speech with its own noise."""
    pool = []
    for manifest_path in corpus.build():
        manifest = json.loads(manifest_path.read_text())
        for speaker in manifest["speakers"]:
            pool.append((speaker["identity"], manifest_path.parent / speaker["audio"]))
    return pool


async def main(args: argparse.Namespace) -> None:
    pool = _voices()
    rooms: list[rtc.Room] = []
    tracks: list[Track] = []
    index = 0
    for room_name in args.rooms.split(","):
        for k in range(args.per_room):
            identity = f"spk{k}"
            room = rtc.Room()
            token = join_token(
                args.api_key, args.api_secret, room=room_name, identity=identity, role="speaker"
            )
            await room.connect(args.url, token, rtc.RoomOptions(auto_subscribe=False))
            _, path = pool[index % len(pool)]
            pcm, rate = read_wav(path)
            # Start each loop somewhere else so rooms are not in lockstep.
            offset = (index * 7919) % max(1, len(pcm) // 2)
            tracks.append(await publish_mic(room, identity, pcm[offset:], rate, loop=True))
            rooms.append(room)
            index += 1
    print("ready", flush=True)
    await play(tracks, seconds=args.seconds)
    for room in rooms:
        await room.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--rooms", required=True)
    parser.add_argument("--per-room", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
