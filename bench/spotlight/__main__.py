"""The spotlight benchmark: the engine and three baselines over the same generated corpus.

    python -m bench.spotlight [--conversations N] [--jobs 2] [--splits tune holdout] [--no-docs]

Generates (or reuses) the corpus: "tune" (the engine's defaults were chosen on it), "holdout"
(other conversations, other voices, other backchannel words; never used to choose anything), and
the same two halves in recorded human voices from Debian packages, "recorded-tune" and
"recorded-holdout" (skipped when the packages are missing); "holdout-fresh" and
"recorded-holdout-fresh" are more held-out conversations on new seeds (corpus.py). Replays every
conversation through every engine with the replay tool's own code path, scores the timelines per
shared/spotlight-manifest.md, measures the engine's per-frame cost, writes
bench/out/spotlight/results.json, the plots (of the held-out half) under docs/bench/img/, and the
results block of docs/bench/spotlight.md, held-out halves first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from multiprocessing import Pool
from pathlib import Path

from bench.spotlight import recorded, report
from bench.spotlight.corpus import SPLITS, CorpusSpec, build
from bench.spotlight.engines import ENGINES, make_engine
from bench.spotlight.metrics import Score, score
from media_agent.replay import load_manifest, replay

OUT = Path("bench/out/spotlight")


def _run(job: tuple[str, str]) -> tuple[str, str, Score, float, int]:
    engine_name, manifest_path = job
    manifest = load_manifest(manifest_path)
    engine = make_engine(engine_name)
    started = time.process_time()
    timeline = [(t, state.spotlight) for t, state in replay(manifest, engine)]
    cpu = time.process_time() - started
    frames = int(manifest.duration / 0.02) * len(manifest.tracks)
    result = score(timeline, manifest.raw, manifest.duration)
    # Tag each event with the speaker's mic: quiet (more than 10 dB below the loudest) or loud.
    gains = {speaker["identity"]: speaker.get("gain_db", 0.0) for speaker in manifest.raw["speakers"]}
    result.events = [
        (kind, "quiet" if gains.get(identity, 0.0) < -10.0 else "loud", latency)
        for kind, identity, latency in result.events
    ]
    return engine_name, manifest_path, result, cpu, frames


def _run_split(split: str, args: argparse.Namespace) -> tuple[dict, dict[str, Score]]:
    spec = CorpusSpec(split=split, conversations=args.conversations)
    manifests = [str(path) for path in build(spec)]
    jobs = [(engine, path) for engine in args.engines for path in manifests]
    totals = {engine: Score() for engine in args.engines}
    cpu = dict.fromkeys(args.engines, 0.0)
    frames = dict.fromkeys(args.engines, 0)
    per_conversation: dict[str, dict[str, float]] = {engine: {} for engine in args.engines}
    with Pool(args.jobs) as pool:
        for engine, path, result, seconds, n in pool.imap_unordered(_run, jobs):
            totals[engine].merge(result)
            cpu[engine] += seconds
            frames[engine] += n
            per_conversation[engine][Path(path).parent.name] = result.accuracy
    results = {
        "corpus": {
            "spec": {**spec.__dict__, "seed": spec.seed},
            "conversations": len(manifests),
            "audio_minutes": totals[args.engines[0]].duration_s / 60.0,
        },
        "engines": {
            engine: report.summary(totals[engine], cpu[engine], frames[engine], per_conversation[engine])
            for engine in args.engines
        },
    }
    return results, totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spotlight")
    parser.add_argument("--conversations", type=int, default=CorpusSpec().conversations)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--engines", nargs="*", default=list(ENGINES))
    parser.add_argument("--splits", nargs="*", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/bench/spotlight.md")
    args = parser.parse_args(argv)

    started = time.monotonic()
    per_split: dict[str, dict] = {}
    totals_by_split: dict[str, dict[str, Score]] = {}
    for split in args.splits:
        if split in recorded.SPLIT_VOICES and recorded.missing():
            print(f"{split}: skipped, the recordings are not installed ({recorded.install()})", flush=True)
            continue
        per_split[split], totals_by_split[split] = _run_split(split, args)
        print(f"{split}: replayed ({time.monotonic() - started:.0f} s)", flush=True)
    cost = report.frame_cost()
    machine = f"{platform.machine()}, {os.cpu_count()} shared cores, Python {platform.python_version()}"
    command = "python -m bench.spotlight" + ("" if argv is None else " " + " ".join(argv))
    results = {
        "command": command,
        "machine": machine,
        "splits": per_split,
        "cost": cost,
        "wall_s": time.monotonic() - started,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=float))
    plotted = "holdout" if "holdout" in totals_by_split else next(iter(totals_by_split))
    report.plots(totals_by_split[plotted], Path("docs/bench/img"))
    # In the order the page shows them: held-out halves first.
    titles = {
        "holdout": "Held-out half (never used to choose anything)",
        "recorded-holdout": "Recorded voices, held-out half (never used to choose anything)",
        "holdout-fresh": "Fresh held-out conversations (generated after the last engine change was chosen)",
        "recorded-holdout-fresh": "Recorded voices, fresh held-out conversations (the same)",
        "tune": "Tuning half",
        "recorded-tune": "Recorded voices, tuning half",
    }
    markdown = "\n".join(
        f"### {titles[split]}\n\n"
        + report.markdown(
            {
                **per_split[split],
                "command": command,
                "machine": machine,
                "cost": cost,
                "wall_s": results["wall_s"],
            }
        )
        for split in sorted(per_split, key=list(titles).index)
    )
    (OUT / "results.md").write_text(markdown)
    if not args.no_docs:
        report.update_doc(Path("docs/bench/spotlight.md"), markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
