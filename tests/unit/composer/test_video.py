"""Which video tracks the composer holds, and at which layer (composer/video.py)."""

from __future__ import annotations

from composer.video import VideoTrack, held_videos


def track(
    identity: str, *, source: str = "camera", simulcast: bool = True, on_stage: bool = True
) -> VideoTrack:
    kind = "cam" if source == "camera" else "screen"
    return VideoTrack(
        identity=identity,
        sid=f"{kind}-{identity}",
        source=source,  # type: ignore[arg-type]
        simulcast=simulcast,
        on_stage=on_stage,
    )


def test_warm_holds_every_stage_camera_low_and_the_shown_one_high() -> None:
    tracks = [track("alice"), track("bob"), track("carol")]
    assert held_videos(tracks, ("bob", "camera"), warm=True) == {
        "cam-alice": "low",
        "cam-bob": "high",
        "cam-carol": "low",
    }
    # Nobody's video in the big tile: the cameras stay warm for the next switch.
    assert held_videos(tracks, None, warm=True) == {"cam-alice": "low", "cam-carol": "low", "cam-bob": "low"}


def test_cold_holds_the_shown_video_only() -> None:
    tracks = [track("alice"), track("bob")]
    assert held_videos(tracks, ("bob", "camera"), warm=False) == {"cam-bob": "high"}
    assert held_videos(tracks, None, warm=False) == {}


def test_a_camera_without_simulcast_is_held_only_while_shown() -> None:
    """Its one layer is the full picture: decoding every such camera would cost what warmth saves."""
    tracks = [track("alice", simulcast=False), track("bob")]
    assert held_videos(tracks, ("bob", "camera"), warm=True) == {"cam-bob": "high"}
    assert held_videos(tracks, ("alice", "camera"), warm=True) == {"cam-alice": "high", "cam-bob": "low"}


def test_screen_shares_only_while_shown_and_off_stage_never() -> None:
    tracks = [
        track("hana", source="screen_share"),
        track("hana"),
        track("mallory", on_stage=False),
        track("mallory", source="screen_share", on_stage=False),
    ]
    assert held_videos(tracks, ("hana", "screen_share"), warm=True) == {
        "screen-hana": "high",
        "cam-hana": "low",
    }
    assert held_videos(tracks, ("hana", "camera"), warm=True) == {"cam-hana": "high"}
    # The stage names someone the room metadata does not put on stage: nothing of theirs.
    assert held_videos(tracks, ("mallory", "camera"), warm=True) == {"cam-hana": "low"}
