"""The spotlight benchmark: the engine and three baselines over the same generated corpus.

    python -m bench.spotlight [--conversations N] [--jobs 2] [--splits tune holdout] [--no-docs]

Generates (or reuses) the corpus: "tune" (the engine's defaults were chosen on it), "holdout"
(other conversations, other voices, other backchannel words; never used to choose anything), and
the same two halves in recorded human voices from Debian packages, "recorded-tune" and
"recorded-holdout" (skipped when the packages are missing). The "-fresh" and "-blind" pairs are more
held-out conversations on new seeds, "tune-2" and "recorded-tune-2" more tuning ones (corpus.py).
Replays every conversation through every engine with the replay tool's own code path, scores the
timelines per the replay manifest's metrics (docs/spotlight.md), measures the engine's per-frame cost, writes
bench/out/spotlight/results.json, the plots (of the held-out half) under docs/bench/img/ (with
--no-docs under bench/out/spotlight/img/), and the results block of docs/bench/spotlight.md: issue
10's goals on the parts never tuned on (each, and pooled by kind of voice), then every part,
held-out halves first.
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


# The parts of the corpus the engine was never tuned on, each on its own and pooled by kind of voice:
# issue 10's goals are judged on these (report.goals_markdown).
UNSEEN = {
    "espeak-ng, held out": ("holdout",),
    "espeak-ng, fresh": ("holdout-fresh",),
    "espeak-ng, blind": ("holdout-blind",),
    "espeak-ng, all three": ("holdout", "holdout-fresh", "holdout-blind"),
    "recorded, held out": ("recorded-holdout",),
    "recorded, fresh": ("recorded-holdout-fresh",),
    "recorded, blind": ("recorded-holdout-blind",),
    "recorded, all three": ("recorded-holdout", "recorded-holdout-fresh", "recorded-holdout-blind"),
}
PerConversation = dict[str, tuple[float, float]]


def _run_split(
    split: str, args: argparse.Namespace
) -> tuple[dict, dict[str, Score], dict[str, PerConversation]]:
    spec = CorpusSpec(split=split, conversations=args.conversations)
    manifests = [str(path) for path in build(spec)]
    jobs = [(engine, path) for engine in args.engines for path in manifests]
    totals = {engine: Score() for engine in args.engines}
    cpu = dict.fromkeys(args.engines, 0.0)
    frames = dict.fromkeys(args.engines, 0)
    # engine -> conversation -> (correct seconds, scored seconds)
    per_conversation: dict[str, PerConversation] = {engine: {} for engine in args.engines}
    with Pool(args.jobs) as pool:
        for engine, path, result, seconds, n in pool.imap_unordered(_run, jobs):
            totals[engine].merge(result)
            cpu[engine] += seconds
            frames[engine] += n
            per_conversation[engine][Path(path).parent.name] = (result.correct_s, result.scored_s)
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
    return results, totals, per_conversation


def _goals(
    totals: dict[str, dict[str, Score]], per_conversation: dict[str, dict[str, PerConversation]]
) -> str:
    """The goals table of the shipped engine on the unseen parts that were run."""
    parts: dict[str, tuple[Score, list[tuple[float, float]]]] = {}
    for name, splits in UNSEEN.items():
        if not all(split in totals for split in splits):
            continue
        pooled = Score()
        conversations: list[tuple[float, float]] = []
        for split in splits:
            pooled.merge(totals[split]["spotlight"])
            conversations += per_conversation[split]["spotlight"].values()
        parts[name] = (pooled, conversations)
    return report.goals_markdown(parts) if parts else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spotlight")
    parser.add_argument("--conversations", type=int, default=CorpusSpec().conversations)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--engines", nargs="*", default=list(ENGINES))
    parser.add_argument("--splits", nargs="*", default=list(SPLITS), choices=SPLITS)
    parser.add_argument(
        "--no-docs", action="store_true", help="do not rewrite docs/bench/spotlight.md or its plots"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    per_split: dict[str, dict] = {}
    totals_by_split: dict[str, dict[str, Score]] = {}
    conversations_by_split: dict[str, dict[str, PerConversation]] = {}
    for split in args.splits:
        if split in recorded.SPLIT_VOICES and recorded.missing():
            print(f"{split}: skipped, the recordings are not installed ({recorded.install()})", flush=True)
            continue
        per_split[split], totals_by_split[split], conversations_by_split[split] = _run_split(split, args)
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
    # With --no-docs nothing under docs/ changes: the plots go next to results.json instead.
    report.plots(totals_by_split[plotted], OUT / "img" if args.no_docs else Path("docs/bench/img"))
    # In the order the page shows them: held-out halves first.
    titles = {
        "holdout": "Held-out half (never used to choose anything)",
        "recorded-holdout": "Recorded voices, held-out half (never used to choose anything)",
        "holdout-fresh": "Fresh held-out conversations (a second held-out draw)",
        "recorded-holdout-fresh": "Recorded voices, fresh held-out conversations (the same)",
        "holdout-blind": "Blind held-out conversations (generated after `1b3a0ac`; no choice made on them)",
        "recorded-holdout-blind": "Recorded voices, blind held-out conversations (the same)",
        "tune": "Tuning half",
        "recorded-tune": "Recorded voices, tuning half",
        "tune-2": "Tuning half, second draw (tuning voices and words, new seed)",
        "recorded-tune-2": "Recorded voices, tuning half, second draw",
    }
    goals = _goals(totals_by_split, conversations_by_split) if "spotlight" in args.engines else ""
    markdown = (
        "### Issue 10's goals on the parts never tuned on\n\n" + goals + "\n" if goals else ""
    ) + "\n".join(
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
