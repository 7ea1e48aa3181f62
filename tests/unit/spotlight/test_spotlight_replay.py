"""The replay tool on a tiny generated manifest (written to tmp_path, nothing checked in)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from spotlight_signals import RATE, silence, speech, track

from media_agent import replay


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


@pytest.fixture
def conversation(tmp_path: Path) -> Path:
    # a talks 0.5-2.5; b talks 3.0-5.0 while muted (must not count), then 6.0-8.0 unmuted.
    write_wav(tmp_path / "a.wav", track(silence(0.5), speech(2.0, seed=1), silence(1.0)))
    write_wav(
        tmp_path / "b.wav",
        track(
            silence(3.0), speech(2.0, f0=210, seed=2), silence(1.0), speech(2.0, f0=210, seed=3), silence(0.5)
        ),
    )
    manifest = {
        "sample_rate": RATE,
        "speakers": [
            {"identity": "a", "audio": "a.wav", "video": [[0.0, 9.0]]},
            {"identity": "b", "audio": "b.wav", "video": [], "muted": [[2.8, 5.5]]},
        ],
        "pins": [{"at": 8.2, "identity": "b"}],
        "truth": [
            {"start": 0.5, "end": 2.5, "identity": "a", "kind": "turn"},
            {"start": 6.0, "end": 8.0, "identity": "b", "kind": "turn"},
        ],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def test_replay_prints_the_initial_state_and_every_change(
    conversation: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert replay.main([str(conversation)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {
        "t": 0.0,
        "spotlight": None,
        "video_spotlight": None,
        "speaking": [],
        "video_on": [],
        "pinned": None,
    }
    moves = [
        (line["t"], line["spotlight"])
        for i, line in enumerate(lines)
        if i == 0 or line["spotlight"] != lines[i - 1]["spotlight"]
    ]
    assert [who for _, who in moves] == [None, "a", "b"]
    assert 0.5 < moves[1][0] <= 0.85 and 6.0 < moves[2][0] <= 6.35  # b's muted talk did not count
    assert all(line["t"] <= lines[i + 1]["t"] for i, line in enumerate(lines[:-1]))
    # a's camera stays on the big tile while b (no camera) holds the spotlight.
    assert (
        lines[-1]["pinned"] == "b" and lines[-1]["video_spotlight"] == "a" and lines[-1]["video_on"] == ["a"]
    )
    assert set(lines[0]) == {"t", "spotlight", "video_spotlight", "speaking", "video_on", "pinned"}


def test_replay_names_what_is_wrong_with_a_bad_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_wav(tmp_path / "a.wav", silence(1.0), rate=8000)
    (tmp_path / "manifest.json").write_text(
        json.dumps({"sample_rate": RATE, "speakers": [{"identity": "a", "audio": "a.wav"}]})
    )
    assert replay.main([str(tmp_path / "manifest.json")]) == 2
    assert "a.wav" in capsys.readouterr().err
    (tmp_path / "nameless.json").write_text(
        json.dumps({"sample_rate": RATE, "speakers": [{"audio": "a.wav"}]})
    )
    assert replay.main([str(tmp_path / "nameless.json")]) == 2
    assert "malformed speaker or pin" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{")
    assert replay.main([str(tmp_path / "broken.json")]) == 2
    assert "not a spotlight manifest" in capsys.readouterr().err
