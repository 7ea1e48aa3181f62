"""CDN fan-out: simulated hls.js viewers through a real caching proxy in front of a live origin.

One live HLS stream (bench/broadcast/live_source.py, PyAV, 1 s segments, growing EVENT playlist)
is written to disk; a counting origin (tests/support/hls_origin.py) serves it with the broadcast
layout's cache metadata; Debian's nginx with proxy_cache (tests/support/nginx_cdn.py) stands where
a CloudFront edge does. For each client count, a fresh (empty) edge cache, viewers joining over
a ramp, then a steady window; we read from the origin how many requests each segment and the
playlist cost, and from the viewers their stalls and fetch latencies.

    python -m bench.broadcast.fanout --clients 10 100 500 1000 2000

Results: the `fanout` block of docs/bench/broadcast.md, docs/bench/img/broadcast-fanout.png,
raw numbers in bench/out/broadcast/fanout-<payload>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.broadcast.clients import LIVE_SYNC_S
from bench.broadcast.report import IMG, OUT, ROOT, machine_note, pct, update_section
from tests.support.eventually import eventually
from tests.support.hls_origin import origin_process
from tests.support.nginx_cdn import nginx_cdn

SPACE = "space-fanout"


@contextmanager
def live_source(root: Path, video: str, segment: float) -> Iterator[subprocess.Popen[bytes]]:
    out = root / SPACE
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.broadcast.live_source",
            "--out",
            str(out),
            "--video",
            video,
            "--segment",
            str(segment),
        ],
        cwd=ROOT,
    )
    try:
        eventually(
            lambda: len(list(out.glob("*.ts"))) >= 4 and (out / "index.m3u8").exists(),
            timeout=30,
            what="live source has 4 segments",
        )
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def nginx_pids(workdir: Path) -> list[int]:
    master = psutil.Process(int((workdir / "nginx.pid").read_text()))
    return [master.pid] + [c.pid for c in master.children()]


def run_step(
    origin: str,
    workroot: Path,
    clients: int,
    seconds: float,
    ramp: float,
    procs: int,
    source_pid: int,
    holdback: float = LIVE_SYNC_S,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"edge-{clients}-", dir=workroot))
    httpx.post(f"{origin}/_origin/reset")
    with nginx_cdn(origin, workdir, workers=2, access_log=True) as edge:
        url = f"{edge}/{SPACE}/index.m3u8"
        n_procs = max(1, min(procs, clients // 100 or 1))
        shares = [clients // n_procs + (1 if i < clients % n_procs else 0) for i in range(n_procs)]
        edge_pids = nginx_pids(workdir)
        origin_pid = [
            p.pid
            for p in psutil.Process().children(recursive=True)
            if "tests.support.hls_origin" in " ".join(p.cmdline())
        ]
        before = {
            "edge": cpu_seconds(edge_pids),
            "origin": cpu_seconds(origin_pid),
            "source": cpu_seconds([source_pid]),
        }
        psutil.cpu_percent()
        t0 = time.time()
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.broadcast.clients",
                    "--url",
                    url,
                    "--clients",
                    str(n),
                    "--seconds",
                    str(seconds),
                    "--ramp",
                    str(ramp),
                    "--offset",
                    str(i),
                    "--of",
                    str(n_procs),
                    "--holdback",
                    str(holdback),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
            )
            for i, n in enumerate(shares)
        ]
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        outputs = []
        for w in workers:
            out, _ = w.communicate(timeout=ramp + seconds + 120)
            outputs.append(json.loads(out))
        wall = time.time() - t0
        machine_busy = psutil.cpu_percent()
        # The load generators are reaped by now: their CPU is the growth of RUSAGE_CHILDREN.
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
        after = {
            "edge": cpu_seconds(edge_pids),
            "origin": cpu_seconds(origin_pid),
            "source": cpu_seconds([source_pid]),
        }
        stats = httpx.get(f"{origin}/_origin/stats").json()["requests"]
    # nginx has exited and flushed its log: the time the edge itself took per request.
    edge_ms: dict[str, list[float]] = {"ts": [], "m3u8": []}
    cache: dict[str, int] = {}
    for line in (workdir / "access.log").read_text().splitlines():
        _, took, status, _, uri = line.split(" ", 4)
        edge_ms["ts" if uri.endswith(".ts") else "m3u8"].append(float(took) * 1000)
        cache[status] = cache.get(status, 0) + 1
    viewers = [v for o in outputs for v in o["viewers"]]
    lags = [x for o in outputs for x in o["loop_lag_ms"]]
    return {
        "clients": clients,
        "procs": n_procs,
        "wall_s": wall,
        "ramp": ramp,
        "seconds": seconds,
        "origin": stats,
        "viewers": viewers,
        "edge_ms": edge_ms,
        "cache": cache,
        "loop_lag_ms": lags,
        "machine_busy_pct": machine_busy,
        "cpu_s": {**{k: after[k] - before[k] for k in after}, "clients": client_cpu},
    }


def summarize(step: dict[str, Any]) -> dict[str, Any]:
    origin = step["origin"]
    seg_paths = {p: c for p, c in origin.items() if p.endswith(".ts")}
    playlist = origin.get(f"/{SPACE}/index.m3u8", {})
    viewers = step["viewers"]
    fetched = {s for v in viewers for s in v["segments"]}
    seg_origin = [sum(c.values()) for c in seg_paths.values()]
    seg_ms = [x for v in viewers for x in v["segment_ms"]]
    pl_ms = [x for v in viewers for x in v["playlist_ms"]]
    stalls = [x for v in viewers for x in v["stalls_s"]]
    behind = [x for v in viewers for x in v["behind_live_s"]]
    startup = [v["startup_s"] for v in viewers if v["startup_s"] is not None]
    edge_requests = len(seg_ms) + len(pl_ms)
    origin_requests = sum(seg_origin) + sum(playlist.values())
    span = step["ramp"] + step["seconds"]
    return {
        "clients": step["clients"],
        "procs": step["procs"],
        "segments": len(fetched),
        "origin_per_segment_mean": sum(seg_origin) / max(1, len(seg_origin)),
        "origin_per_segment_max": max(seg_origin, default=0),
        "playlist_origin_per_s": sum(playlist.values()) / span,
        "playlist_200": playlist.get("200", 0),
        "playlist_304": playlist.get("304", 0),
        "edge_requests": edge_requests,
        "edge_rps": edge_requests / span,
        "origin_requests": origin_requests,
        "offload": 1 - origin_requests / max(1, edge_requests),
        "seg_p50": pct(seg_ms, 50),
        "seg_p90": pct(seg_ms, 90),
        "seg_p99": pct(seg_ms, 99),
        "pl_p50": pct(pl_ms, 50),
        "pl_p99": pct(pl_ms, 99),
        "edge_seg_p50": pct(step["edge_ms"]["ts"], 50),
        "edge_seg_p90": pct(step["edge_ms"]["ts"], 90),
        "edge_seg_p99": pct(step["edge_ms"]["ts"], 99),
        "cache": step["cache"],
        "stalls": len(stalls),
        "stalled_viewers": sum(1 for v in viewers if v["stalls_s"]),
        "stall_p50": pct(stalls, 50),
        "stall_p90": pct(stalls, 90),
        "stall_max": max(stalls, default=0.0),
        "stall_total_s": sum(stalls),
        "behind_p50": pct(behind, 50),
        "behind_p90": pct(behind, 90),
        "behind_p99": pct(behind, 99),
        "startup_p50": pct(startup, 50),
        "startup_p90": pct(startup, 90),
        "errors": sum(v["errors"] for v in viewers),
        "never_started": sum(1 for v in viewers if v["startup_s"] is None),
        "lag_p50": pct(step["loop_lag_ms"], 50),
        "lag_p99": pct(step["loop_lag_ms"], 99),
        "lag_max": max(step["loop_lag_ms"], default=0.0),
        "machine_busy_pct": step["machine_busy_pct"],
        "edge_cores": step["cpu_s"]["edge"] / step["wall_s"],
        "origin_cores": step["cpu_s"]["origin"] / step["wall_s"],
        "source_cores": step["cpu_s"]["source"] / step["wall_s"],
        "client_cores": step["cpu_s"]["clients"] / step["wall_s"],
        "stalls_all": stalls,
        "seg_ms_all": seg_ms,
    }


def table(rows: list[dict[str, Any]]) -> str:
    cols = [
        "clients",
        "segments",
        "origin requests per segment (mean / max)",
        "playlist at origin per s (200 + 304)",
        "edge req/s",
        "offload",
        "segment fetch p50 / p90 / p99",
        "the edge's own time per segment p50 / p90 / p99",
        "playlist fetch p50 / p99",
        "stalls (viewers)",
        "stall p50 / p90 / max",
        "segment end → in viewer p50 / p90 / p99",
        "startup p50 / p90",
        "errors",
        "loop lag p99 / max",
        "edge cores",
        "load generator cores",
        "machine busy",
    ]
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['clients']} | {r['segments']} "
            f"| **{r['origin_per_segment_mean']:.2f}** / {r['origin_per_segment_max']} "
            f"| {r['playlist_origin_per_s']:.2f} ({r['playlist_200']} + {r['playlist_304']}) "
            f"| {r['edge_rps']:.0f} | {100 * r['offload']:.2f} % "
            f"| {r['seg_p50']:.1f} / {r['seg_p90']:.1f} / {r['seg_p99']:.1f} ms "
            f"| {r['edge_seg_p50']:.0f} / {r['edge_seg_p90']:.0f} / {r['edge_seg_p99']:.0f} ms "
            f"| {r['pl_p50']:.1f} / {r['pl_p99']:.1f} ms "
            f"| {r['stalls']} ({r['stalled_viewers']}) "
            f"| {_s(r['stall_p50'])} / {_s(r['stall_p90'])} / {_s(r['stall_max'])} "
            f"| {r['behind_p50']:.2f} / {r['behind_p90']:.2f} / {r['behind_p99']:.2f} s "
            f"| {r['startup_p50']:.2f} / {r['startup_p90']:.2f} s | {r['errors']} "
            f"| {r['lag_p99']:.0f} / {r['lag_max']:.0f} ms | {r['edge_cores']:.2f} | {r['client_cores']:.2f} "
            f"| {r['machine_busy_pct']:.0f} % |"
        )
    return "\n".join(lines)


def _s(x: float) -> str:
    return "–" if x != x or x == 0 else f"{x:.2f} s"


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["clients"] for r in rows]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    ax[0].plot(n, [r["origin_per_segment_mean"] for r in rows], "o-", label="origin requests per segment")
    ax[0].plot(n, [r["playlist_origin_per_s"] for r in rows], "s-", label="playlist origin requests per s")
    ax[0].plot(n, [r["edge_rps"] / r["clients"] for r in rows], "^--", label="edge requests per s per viewer")
    ax[0].set_xscale("log")
    ax[0].set_ylim(0, max(3.0, max(r["origin_per_segment_max"] for r in rows) + 0.5))
    ax[0].set_xlabel("concurrent viewers")
    ax[0].set_title("origin load stays flat")
    ax[0].legend(fontsize=8)
    for key, label in (("seg_p50", "p50"), ("seg_p90", "p90"), ("seg_p99", "p99")):
        ax[1].plot(n, [r[key] for r in rows], "o-", label=label)
    ax[1].set_xscale("log")
    ax[1].set_yscale("log")
    ax[1].set_xlabel("concurrent viewers")
    ax[1].set_ylabel("ms")
    ax[1].set_title("segment fetch latency at the viewer")
    ax[1].legend(fontsize=8)
    ax[2].bar([str(x) for x in n], [r["stalls"] for r in rows], label="stalls")
    ax[2].bar(
        [str(x) for x in n], [r["stalled_viewers"] for r in rows], alpha=0.6, label="viewers who stalled"
    )
    ax[2].set_xlabel("concurrent viewers")
    ax[2].set_title("stalls")
    ax[2].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, nargs="+", default=[10, 100, 500, 1000, 2000])
    ap.add_argument("--seconds", type=float, default=20.0, help="steady window after the ramp")
    ap.add_argument("--ramp", type=float, default=5.0)
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--video", default="none", help="'none' (AAC 64 kbps only) or WxH (plus H.264)")
    ap.add_argument("--segment", type=float, default=1.0)
    ap.add_argument(
        "--holdback",
        type=float,
        default=LIVE_SYNC_S,
        help="viewers start this many seconds behind the edge they see (the page's liveSyncDuration)",
    )
    ap.add_argument(
        "--tag", default="", help="suffix of the result block and plot (a second run kept beside)"
    )
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    payload = ("audio" if args.video == "none" else f"video{args.video}") + (
        f"-{args.tag}" if args.tag else ""
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        root = Path(tmp)
        (root / "edges").mkdir()
        with live_source(root, args.video, args.segment) as source, origin_process(root) as origin:
            seg_bytes = 0
            for n in args.clients:
                step = run_step(
                    origin, root / "edges", n, args.seconds, args.ramp, args.procs, source.pid, args.holdback
                )
                row = summarize(step)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if not k.endswith("_all")}), flush=True)
            sizes = [p.stat().st_size for p in (root / SPACE).glob("*.ts")]
            seg_bytes = sum(sizes) // max(1, len(sizes))
    (OUT / f"fanout-{payload}.json").write_text(json.dumps(rows))
    if args.no_doc:
        return
    cmd = "python -m bench.broadcast.fanout " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
        if k != "no_doc" and v != ""
    )
    body = (
        f"Command: `{cmd}` ({machine_note()}). Payload: {payload}, {args.segment:g} s segments, "
        f"{seg_bytes / 1024:.1f} KiB per segment on average; nginx 2 workers; "
        f"{args.procs} load-generator processes; viewers start {args.holdback:g} s behind the edge they see; "
        "every client count starts with an empty edge cache, "
        f"viewers join over {args.ramp:g} s, then {args.seconds:g} s steady.\n\n" + table(rows)
    )
    update_section(f"fanout-{payload}", body)
    plot(
        rows,
        IMG / f"broadcast-fanout-{payload}.png",
        f"nginx edge in front of a live HLS origin, {payload}, {args.segment:g} s segments",
    )


if __name__ == "__main__":
    main()
