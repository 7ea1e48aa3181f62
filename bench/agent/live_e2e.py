"""End to end on a real server: truth turn start -> a listener sees the new spotlight.

    python -m bench.agent.live_e2e [--conversations 2]

Conversations of the benchmark corpus (bench/spotlight/corpus.py) are played through the SDK in
real time, one synthetic participant per speaker, mic mutes included (pins and cameras are left out:
they do not test speaker detection). A listener in the same process stamps, on one monotonic clock,
(a) every change of the agent's `stage` attribute and (b) every `active_speakers_changed` the SFU
sends for the same audio. For each truth turn and interruption we report the time from its start
until the listener sees that speaker as: the agent's spotlight; the SFU's loudest active speaker
(what a "speaker" layout built on the SFU would show); and anywhere in the SFU's active list.
Results go to bench/out/agent/live_e2e.json and into docs/bench/agent.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit import rtc

from bench.agent.common import (
    OUT,
    TICK_S,
    Stack,
    Track,
    open_room,
    play,
    publish_mic,
    read_wav,
    sent_time,
    stack,
)
from bench.agent.report import update_section
from bench.spotlight import corpus
from contract import names
from tests.support.eventually import eventually_async
from tests.support.synthetic_speakers import join_token

# Time after the last truth interval during which late answers still count.
TAIL_S = 2.0


@dataclass
class Observed:
    """What the listener saw, stamped with time.monotonic()."""

    stage: list[tuple[float, str | None]] = field(default_factory=list)
    loudest: list[tuple[float, str | None]] = field(default_factory=list)
    active: list[tuple[float, frozenset[str]]] = field(default_factory=list)


def listen(room: rtc.Room, observed: Observed) -> None:
    def attributes_changed(changed: dict[str, str], participant: rtc.Participant) -> None:
        if names.STAGE_ATTRIBUTE in changed:
            spotlight = json.loads(changed[names.STAGE_ATTRIBUTE])["spotlight"]
            observed.stage.append((time.monotonic(), spotlight))

    def speakers_changed(speakers: list[rtc.Participant]) -> None:
        now = time.monotonic()
        people = [p.identity for p in speakers if p.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT]
        observed.loudest.append((now, people[0] if people else None))
        observed.active.append((now, frozenset(people)))

    room.on("participant_attributes_changed", attributes_changed)
    room.on("active_speakers_changed", speakers_changed)


def latency(series: list[tuple[float, Any]], start: float, end: float, matches: Any) -> float | None:
    """First time >= start at which the observed value matches, minus start; None if not by end."""
    current, i = None, 0
    while i < len(series) and series[i][0] <= start:
        current, i = series[i][1], i + 1
    if matches(current):
        return 0.0
    for at, value in series[i:]:
        if at > end:
            return None
        if matches(value):
            return at - start
    return None


async def run_conversation(st: Stack, manifest_path: Path, index: int) -> dict[str, Any]:
    manifest = json.loads(manifest_path.read_text())
    room_name = f"e2e-{index}-{int(time.time())}"
    lkapi = st.api()
    await open_room(lkapi, room_name)
    key, secret, url = st.server.api_key, st.server.api_secret, st.server.ws_url

    listener = rtc.Room()
    observed = Observed()
    listen(listener, observed)
    # A listener listens: it subscribes to the microphones. (The SFU also only reports active
    # speakers among the tracks a participant is subscribed to.)
    token = join_token(key, secret, room=room_name, identity="listener", role="listener")
    await listener.connect(url, token, rtc.RoomOptions(auto_subscribe=True))

    rooms: list[rtc.Room] = []
    tracks: list[Track] = []
    subscribed: list[asyncio.Event] = []
    duration = 0.0
    for speaker in manifest["speakers"]:
        room = rtc.Room()
        heard = asyncio.Event()
        room.on("local_track_subscribed", lambda _track, heard=heard: heard.set())
        token = join_token(key, secret, room=room_name, identity=speaker["identity"], role="speaker")
        await room.connect(url, token, rtc.RoomOptions(auto_subscribe=False))
        pcm, rate = read_wav(manifest_path.parent / speaker["audio"])
        duration = max(duration, len(pcm) / rate)
        tracks.append(
            await publish_mic(
                room, speaker["identity"], pcm, rate, muted=[(a, b) for a, b in speaker.get("muted", [])]
            )
        )
        rooms.append(room)
        subscribed.append(heard)
    await eventually_async(
        lambda: all(e.is_set() for e in subscribed),
        timeout=30,
        what="the agent subscribes to every microphone",
    )

    sent: list[float] = []
    t0 = await play(tracks, seconds=duration + TAIL_S, sent=sent)
    for room in [*rooms, listener]:
        await room.disconnect()
    await lkapi.aclose()

    pins = sorted(manifest.get("pins", []), key=lambda p: p["at"])

    def pinned_at(t: float) -> bool:
        holder = None
        for pin in pins:
            if pin["at"] <= t:
                holder = pin["identity"]
        return holder is not None

    rows = []
    for entry in manifest["truth"]:
        if pinned_at(entry["start"]):
            continue  # the corpus pins are not replayed here; the truth under them is not ours
        start, end, who = sent_time(sent, entry["start"]), sent_time(sent, entry["end"]), entry["identity"]
        rows.append(
            {
                "kind": entry["kind"],
                "identity": who,
                "agent": latency(observed.stage, start, end, lambda v, who=who: v == who),
                "sfu_loudest": latency(observed.loudest, start, end, lambda v, who=who: v == who),
                "sfu_listed": latency(
                    observed.active, start, end, lambda v, who=who: v is not None and who in v
                ),
            }
        )
    behind = sent[-1] - (t0 + (len(sent) - 1) * TICK_S)
    window = (sent[0], sent[-1])
    truth_changes = sum(
        1
        for a, b in zip(manifest["truth"], manifest["truth"][1:], strict=False)
        if a["identity"] != b["identity"]
    )
    return {
        "conversation": manifest_path.parent.name,
        "duration_s": round(duration, 1),
        "rows": rows,
        "playback_behind_ms": round(1000 * behind),
        "stage_updates": len(observed.stage),
        "sfu_updates": len(observed.loudest),
        "changes": {
            "truth": truth_changes,
            "agent": changes(observed.stage, *window),
            "sfu_loudest": changes(observed.loudest, *window),
        },
    }


def changes(series: list[tuple[float, Any]], start: float, end: float) -> int:
    """How often the shown speaker changed to someone (not to nobody) during the playback."""
    count, current = 0, None
    for at, value in series:
        if start <= at <= end and value is not None and value != current:
            count += 1
        if value is not None:
            current = value
    return count


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("turn", "interrupt"):
        subset = [r for r in rows if r["kind"] == kind]
        for source in ("agent", "sfu_loudest", "sfu_listed"):
            values = sorted(r[source] for r in subset if r[source] is not None)
            out[f"{kind}/{source}"] = {
                "n": len(subset),
                "missed": len(subset) - len(values),
                "median_ms": round(1000 * statistics.median(values)) if values else None,
                "p90_ms": round(1000 * values[int(0.9 * (len(values) - 1))]) if values else None,
            }
    return out


def markdown(summary: dict[str, Any], results: list[dict[str, Any]], command: str) -> str:
    audio = sum(r["duration_s"] for r in results)
    lines = [
        f"Command: `{command}`: {len(results)} corpus conversation(s), {audio:.0f} s of audio played "
        f"in real time (playback fell behind the schedule by up to "
        f"{max(r['playback_behind_ms'] for r in results)} ms on the loaded machine; latencies are "
        "measured from when the audio was actually handed to the SDK).",
        "",
        "| truth | what the listener saw | n | median | p90 | missed |",
        "|---|---|---|---|---|---|",
    ]
    labels = {
        "agent": "agent `stage` spotlight",
        "sfu_loudest": "SFU loudest active speaker",
        "sfu_listed": "SFU lists them as active",
    }
    for key, value in summary.items():
        kind, source = key.split("/")
        lines.append(
            f"| {kind} | {labels[source]} | {value['n']} | {value['median_ms']} ms "
            f"| {value['p90_ms']} ms | {value['missed']} |"
        )
    updates = sum(r["stage_updates"] for r in results), sum(r["sfu_updates"] for r in results)
    minutes = audio / 60
    moves = {k: sum(r["changes"][k] for r in results) for k in ("truth", "agent", "sfu_loudest")}
    lines += [
        "",
        f"How often the big tile would move (changes to a new speaker per minute): truth "
        f"{moves['truth'] / minutes:.1f}, agent {moves['agent'] / minutes:.1f}, SFU loudest "
        f"{moves['sfu_loudest'] / minutes:.1f}.",
        f"Updates the listener received: {updates[0]} stage attribute changes (levels included), "
        f"{updates[1]} active-speaker updates.",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    manifests = corpus.build()[: args.conversations]
    results = []
    log = open(OUT / "live_e2e.log", "w")  # noqa: SIM115 - closed below
    try:
        with stack(log=log) as st:
            for index, manifest_path in enumerate(manifests):
                result = await run_conversation(st, manifest_path, index)
                print(json.dumps({k: v for k, v in result.items() if k != "rows"}), flush=True)
                results.append(result)
    finally:
        log.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=2)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(main_async(args))
    rows = [row for result in results for row in result["rows"]]
    summary = summarize(rows)
    (OUT / "live_e2e.json").write_text(json.dumps({"summary": summary, "results": results}, indent=1))
    print(json.dumps(summary, indent=1))
    command = "python -m bench.agent.live_e2e " + " ".join(argv if argv is not None else sys.argv[1:])
    update_section("live_e2e", markdown(summary, results, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
