"""HLS viewers told of their removal. Pure, no I/O.

An HLS viewer is in no room, so a host's remove or block has nobody to disconnect: their player
would keep playing the public broadcast. Instead, each removal puts the person's *viewer tag* into
the Space (`Space.removed_viewers`), which the room metadata and so state.json carry to every
viewer's page. A page whose own tag is there, with a removal later than its grant, stops its player
and says so (web/src/space_controller.ts). The tag is a salted hash of the user id, the salt a
secret of the Space that no document shows, so a reader of state.json cannot tell who was removed.

"Later than the grant" is by the Space's version, not by a clock: an HLS grant carries the version
of the Space it was read at, and a removal records the version its write gives the Space. A grant
read before the removal is always older; one read after it (the person joined again on purpose,
which a removal without a block allows) is never told of it. docs/control-plane.md ("Remove and
block") gives the limits.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

from contract.room_metadata import REMOVED_VIEWERS_MAX

from .model import Space

# The Space keeps its latest REMOVED_VIEWERS_MAX removals for its viewers. A page reads state.json
# every 3 s (a hidden tab, whose timers the browser slows, about once a minute): a host would have
# to remove more people than that between two reads of one page for that page to miss its own.
# Bounded so the Space's record stays small: each entry is ~15 bytes of every strongly consistent
# read of it.
# 8 base64url characters: 48 bits, so a tag of 16 removed people matches one of 100,000 viewers by
# chance about once in 10^8 Spaces.
TAG_CHARS: Final = 8
# The salt: 16 hex digits (64 bits) drawn when the Space is created (usecases/spaces.py).
SALT_HEX_CHARS: Final = 16


def viewer_tag(space: Space, user: str) -> str | None:
    """The tag under which `user`'s removal appears in this Space's documents; None for a Space
    created before tags existed (it has no salt: its viewers are not told)."""
    if not space.viewer_salt:
        return None
    digest = hashlib.sha256(f"{space.viewer_salt}\x00{user}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TAG_CHARS]


def removed_viewer(space: Space, user: str) -> Space:
    """The Space with `user`'s removal recorded for viewers, at the version this change's write
    gives it (the stores bump the version by one when the Space's own fields change, as this entry
    always does). The oldest entries go past REMOVED_VIEWERS_MAX."""
    tag = viewer_tag(space, user)
    if tag is None:
        return space
    entries = {k: v for k, v in space.removed_viewers.items() if k != tag}
    entries[tag] = space.version + 1
    kept = sorted(entries.items(), key=lambda kv: kv[1])[-REMOVED_VIEWERS_MAX:]
    return space.replace(removed_viewers=dict(kept))
