"""The edits that make the pinned livekit-server safe to expose to anyone who signs up.

livekit-server v1.13.5 serves two things to any holder of a join token that this stack never uses
and that the grants do not gate (docs/infrastructure.md, "The SFU binary"):

- a client's `SignalRequest.simulate` with `speaker_update: N`, which starts a goroutine that sleeps
  N seconds (up to 68 years) holding the room and sends a speaker update to every participant at
  once. A listener's token could send thousands a second: memory that is never given back and a
  signal message to everyone in the room per request, on a node shared by other Spaces. The other
  simulated scenarios act on the sender's own session only (closing it, restarting its ICE, its
  own bandwidth) and stay: the browser tests drop a connection with one;
- WHIP (`POST /whip/v1`), which creates a room for any valid token although `room.auto_create`
  is false, so a token of a Space that has just ended brings its room back;
- the signal URL's `publish=<x>` (`/rtc?publish=x`), which lets any token that may publish join a
  second time as `<identity>#<x>`, a participant the control plane never issued a token for: a
  speaker removed and blocked came back that way with their old token (still valid for minutes),
  under their name and out of reach of the host's removal (an outside security review).

`scripts/build-livekit.sh` copies the module's source out of the module cache, applies these edits
with `apply` (each must match exactly once, or the build stops: a new version is read again
before it is pinned) and builds it. Nothing else changes: the same module, go.mod and go.sum.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

# Bumped with every change to EDITS, so a cached build of older edits is not reused.
REVISION = "spaces3"


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the module root
    old: str
    new: str
    why: str


EDITS = (
    Edit(
        "pkg/rtc/room.go",
        "\tcase *livekit.SimulateScenario_SpeakerUpdate:\n",
        "\tcase *livekit.SimulateScenario_SpeakerUpdate:\n\t\treturn nil\n",
        "a client's simulated speaker update is ignored (no grant gates it; it fans out to the room)",
    ),
    Edit(
        "pkg/service/server.go",
        "\twhipService.SetupRoutes(mux)\n",
        "\t_ = whipService\n",
        "WHIP is not served (it creates rooms whatever room.auto_create says; nothing here uses it)",
    ),
    Edit(
        "pkg/service/utils.go",
        "\t\t// Make sure grant has GetCanPublish set,\n\t\tif !claims.Video.GetCanPublish() {\n",
        "\t\t// Refused whatever the grant: a second session under another identity.\n\t\tif true {\n",
        "a publish-only second session (`publish=<x>`, identity `<identity>#<x>`) is refused",
    ),
)


class EditDoesNotApply(Exception):
    pass


def apply(root: Path, edits: tuple[Edit, ...] = EDITS) -> None:
    """Apply every edit to the source tree at `root`, or change nothing and raise."""
    changed: list[tuple[Path, str]] = []
    for edit in edits:
        target = root / edit.path
        text = target.read_text()
        if text.count(edit.old) != 1:
            raise EditDoesNotApply(
                f"{edit.path}: expected exactly one {edit.old!r}, found {text.count(edit.old)}"
            )
        changed.append((target, text.replace(edit.old, edit.new)))
    for target, text in changed:
        target.write_text(text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--revision"]:
        print(REVISION)
        sys.exit(0)
    if len(sys.argv) != 2:
        sys.exit("usage: livekit_hardening.py <livekit-server source root> | --revision")
    try:
        apply(Path(sys.argv[1]))
    except EditDoesNotApply as exc:
        sys.exit(f"livekit_hardening: {exc}")
    for edit in EDITS:
        print(f"livekit_hardening: {edit.path}: {edit.why}")
