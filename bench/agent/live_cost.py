"""Agent CPU per speaker track at real time, with live tracks on a local livekit-server.

    python -m bench.agent.live_cost [--tracks 10 20 40] [--room-size 10] [--window 30]

For each N: N synthetic speakers (a separate process) publish looped corpus audio into rooms of
--room-size speakers; the agent is dispatched into every room and decodes (Opus, in the SDK's
native threads), resamples to 16 kHz, runs the engine and publishes the stage. Over a --window of
steady state we read the CPU time of the agent's whole process tree (worker, forkserver, job
processes) and split it:
  - native: the job processes' non-main threads (WebRTC: RTP/SRTP, Opus decode, resampling; the
    SDK's FFI callback that parses each event runs here too);
  - python delivery: the job processes' main thread minus engine and publish (the SDK's per-frame
    event plumbing into asyncio, our reader loop);
  - engine, publish: measured inside the agent (media_agent.worker.Cost, logged every few seconds);
  - worker: the worker process and forkserver (fixed, not per track).
Results go to bench/out/agent/live_cost.json and into docs/bench/agent.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from bench.agent.common import OUT, Stack, open_room, stack
from bench.agent.report import update_section
from media_agent.worker import FRAME_MS, FRAME_MS_ENV, STATS_INTERVAL_ENV
from tests.support.eventually import eventually

ROOT = Path(__file__).resolve().parents[2]
STATS_EVERY_S = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def room_stats(stack_: Stack) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    """Every 'room stats' record the agent logged, per room, with the log timestamp."""
    out: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for line in list(stack_.agent.process.lines):
        if "room stats" not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        stats = json.loads(record["message"].split("room stats ", 1)[1])
        at = time.mktime(time.strptime(record["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
        at += float("0." + record["timestamp"][20:26])
        out.setdefault(stats["room"], []).append((at, stats))
    return out


def thread_ticks(pid: int) -> dict[str, float]:
    """CPU seconds of one process, main thread vs the rest."""
    main = other = 0.0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
            if int(tid) == pid:
                main += seconds
            else:
                other += seconds
    except FileNotFoundError:
        pass
    return {"main": main, "other": other}


def snapshot(root: psutil.Process, job_pids: set[int]) -> dict[str, float]:
    totals = {"job_main": 0.0, "job_native": 0.0, "worker": 0.0}
    for process in [root, *root.children(recursive=True)]:
        ticks = thread_ticks(process.pid)
        if process.pid in job_pids:
            totals["job_main"] += ticks["main"]
            totals["job_native"] += ticks["other"]
        else:
            totals["worker"] += ticks["main"] + ticks["other"]
    return totals


def rate(records: list[tuple[float, dict[str, Any]]], key: str, since: float, until: float) -> float:
    """Per-second rate of a cumulative counter between the first and last record in [since, until]."""
    inside = [(at, stats) for at, stats in records if since <= at <= until]
    if len(inside) < 2:
        return 0.0
    (a_t, a), (b_t, b) = inside[0], inside[-1]
    return float(b[key] - a[key]) / (b_t - a_t)


def measure(n_tracks: int, room_size: int, warmup: float, window: float, frame_ms: int) -> dict[str, Any]:
    rooms = [f"cost-{n_tracks}-{i}" for i in range(math.ceil(n_tracks / room_size))]
    per_room = [min(room_size, n_tracks - i * room_size) for i in range(len(rooms))]
    env = {
        STATS_INTERVAL_ENV: str(STATS_EVERY_S),
        FRAME_MS_ENV: str(frame_ms),
        "SPACES_AGENT_IDLE_PROCESSES": str(len(rooms)),
        "SPACES_AGENT_MAX_ROOMS": str(len(rooms) + 10),
    }
    log = open(OUT / f"live_cost-{n_tracks}.log", "w")  # noqa: SIM115 - closed with the stack
    with stack(agent_env=env, log=log) as st:

        async def setup() -> None:
            lkapi = st.api()
            for room in rooms:
                await open_room(lkapi, room)
            await lkapi.aclose()

        asyncio.run(setup())
        eventually(lambda: st.agent.active_jobs() == len(rooms), timeout=60, what="agent in every room")
        publishers = []
        for room, count in zip(rooms, per_room, strict=True):
            publishers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.agent.publishers",
                        "--url",
                        st.server.ws_url,
                        "--api-key",
                        st.server.api_key,
                        "--api-secret",
                        st.server.api_secret,
                        "--rooms",
                        room,
                        "--per-room",
                        str(count),
                        "--seconds",
                        str(warmup + window + 60),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )
        try:
            for publisher in publishers:
                assert publisher.stdout is not None
                if publisher.stdout.readline().strip() != "ready":
                    raise RuntimeError("publisher failed; see the log")

            def all_tracks() -> bool:
                latest = [records[-1][1]["tracks"] for records in room_stats(st).values()]
                return sum(latest) == n_tracks and len(latest) == len(rooms)

            eventually(all_tracks, timeout=90, interval=1, what=f"agent reading {n_tracks} tracks")
            time.sleep(warmup)

            root = psutil.Process(st.agent.process.proc.pid)
            job_pids = {records[-1][1]["pid"] for records in room_stats(st).values()}
            publisher_cpu = [psutil.Process(p.pid) for p in publishers]
            pub_before = sum(sum(p.cpu_times()[:2]) for p in publisher_cpu)
            before, t_before, wall_before = snapshot(root, job_pids), time.monotonic(), time.time()
            time.sleep(window)
            after, t_after, wall_after = snapshot(root, job_pids), time.monotonic(), time.time()
            pub_after = sum(sum(p.cpu_times()[:2]) for p in publisher_cpu)
            stats = room_stats(st)
        finally:
            for publisher in publishers:
                publisher.kill()
                publisher.wait()
    log.close()

    elapsed = t_after - t_before
    cores = {key: (after[key] - before[key]) / elapsed for key in before}
    engine = sum(rate(records, "engine_s", wall_before, wall_after) for records in stats.values())
    publish = sum(rate(records, "publish_s", wall_before, wall_after) for records in stats.values())
    collect = sum(rate(records, "gc_s", wall_before, wall_after) for records in stats.values())
    frames = sum(rate(records, "frames", wall_before, wall_after) for records in stats.values())
    publishes = sum(rate(records, "publishes", wall_before, wall_after) for records in stats.values())
    per_track_total = (cores["job_main"] + cores["job_native"]) / n_tracks
    return {
        "tracks": n_tracks,
        "rooms": len(rooms),
        "window_s": round(elapsed, 1),
        "agent_cores": round(sum(cores.values()), 4),
        "per_track_core_pct": round(100 * per_track_total, 3),
        "tracks_per_core": round(1 / per_track_total, 1) if per_track_total else None,
        "breakdown_core_pct_per_track": {
            "native (decode, resample, RTP, FFI callback)": round(100 * cores["job_native"] / n_tracks, 3),
            "python delivery (SDK events, reader loop)": round(
                100 * (cores["job_main"] - engine - publish - collect) / n_tracks, 3
            ),
            "python gc": round(100 * collect / n_tracks, 3),
            "engine": round(100 * engine / n_tracks, 3),
            "stage publishing": round(100 * publish / n_tracks, 3),
        },
        "worker_fixed_cores": round(cores["worker"], 4),
        "frames_per_track_s": round(frames / n_tracks, 1),
        "frame_ms": frame_ms,
        "expected_frames_per_track_s": 1000 / frame_ms,
        "publishes_per_room_s": round(publishes / len(rooms), 2),
        "publisher_cores": round((pub_after - pub_before) / elapsed, 3),
        "machine_load_1m": round(os.getloadavg()[0], 2),
    }


def markdown(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        f"Command: `{command}` (2 shared cores; other work ran on the machine at the same time).",
        "",
        "| tracks | rooms | frame | agent CPU per track (% of a core) | tracks per core | native "
        "| python delivery | python gc | engine | publishing | frames/s per track | publisher cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        b = list(r["breakdown_core_pct_per_track"].values())
        lines.append(
            f"| {r['tracks']} | {r['rooms']} | {r['frame_ms']} ms | {r['per_track_core_pct']:.2f} "
            f"| {r['tracks_per_core']} "
            f"| {b[0]:.2f} | {b[1]:.2f} | {b[2]:.2f} | {b[3]:.2f} | {b[4]:.3f} | {r['frames_per_track_s']} "
            f"/ {r['expected_frames_per_track_s']:.0f} | {r['publisher_cores']} |"
        )
    lines += [
        "",
        "Breakdown columns are % of one core per track. The worker process itself costs "
        + ", ".join(f"{r['worker_fixed_cores'] * 100:.1f}%" for r in results)
        + " of a core (fixed, not per track).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument(
        "--frame-ms",
        type=int,
        nargs="+",
        default=[FRAME_MS],
        help="agent audio frame sizes to compare (SPACES_AGENT_FRAME_MS)",
    )
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for frame_ms in args.frame_ms:
        for n in args.tracks:
            result = measure(n, args.room_size, args.warmup, args.window, frame_ms)
            print(json.dumps(result), flush=True)
            results.append(result)
    (OUT / "live_cost.json").write_text(json.dumps(results, indent=1))
    command = "python -m bench.agent.live_cost " + " ".join(argv if argv is not None else sys.argv[1:])
    update_section("live_cost", markdown(results, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
