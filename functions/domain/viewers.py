"""HLS viewers told of their removal, and listeners of an invitation to speak, by a tag that does
not name them. Pure, no I/O.

An HLS viewer is in no room, so a host's remove or block has nobody to disconnect: their player
would keep playing the public broadcast. Instead, each removal of someone not on stage is stored
under the person's *viewer tag* with its time, and the latest ones reach every viewer's page in the
room metadata, which the composer copies to state.json (`removed_viewers`). A page whose own tag is
there with a time after its grant's `issued_at` stops its player and says so
(web/src/space_controller.ts). The tag is a keyed hash of the Space and the user id, so a reader of
state.json cannot tell who was removed, nor link one person's tags across Spaces.

"After its grant" compares two readings of the API's clocks, as the removal note does
(domain/stage.py): a grant's `issued_at` is taken before its read of the Space, and the removal's
time after its write, so a grant that did not see a block is always older than it; a join on
purpose after a removal without a block is newer, and watches on. docs/control-plane.md ("remove")
gives the limits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

from contract.room_metadata import REMOVED_VIEWERS_MAX

from .model import Space

# The room metadata carries the latest REMOVED_VIEWERS_MAX removals (contract/room_metadata.py). A
# page reads state.json every 3 s (a hidden tab, whose timers the browser slows, about once a
# minute): a host would have to remove more people than that between two reads of one page for that
# page to miss its own. Each one is ~20 bytes of every metadata update.
# A removal is kept this long for the room metadata, then dropped (a page asleep longer is told by
# its next token request if it was blocked, and it is off the listener list either way).
REMOVED_VIEWER_SECONDS: Final = 3600
# 8 base64url characters: 48 bits, so a tag of 16 removed people matches one of 100,000 viewers by
# chance about once in 10^8 Spaces.
TAG_CHARS: Final = 8
_KEY_LABEL: Final = b"spaces.viewer-tag.v1"


def tag_key(secret: str) -> bytes:
    """The key of viewer tags, derived from a server secret (the LiveKit API secret) under a label of
    its own: the secret itself never signs a tag, and the tag never signs anything."""
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _tag(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TAG_CHARS]


def viewer_tag(key: bytes, space_id: str, user: str) -> str:
    """The tag under which `user`'s removal from `space_id` appears in that Space's documents."""
    return _tag(key, f"{space_id}\x00{user}")


# What a tag looks like on the wire (a presence heartbeat names its own).
TAG_PATTERN: Final = f"^[A-Za-z0-9_-]{{{TAG_CHARS}}}$"


def presence_tag(key: bytes, space_id: str, user: str) -> str:
    """What `user`'s presence heartbeats in `space_id` name: minted only in an HLS join answer, so a
    heartbeat shows the caller was sent to the broadcast. Not the viewer tag, which every join
    answer carries (a WebRTC one too): with that, anyone who took a token could count themselves,
    or a crowd of accounts, as viewers without watching (an outside security review)."""
    return _tag(key, f"presence\x00{space_id}\x00{user}")


def holds_presence_tag(key: bytes, space_id: str, user: str, tag: str) -> bool:
    """Whether `tag` is the presence tag of `user`'s HLS join answers in `space_id`."""
    return hmac.compare_digest(presence_tag(key, space_id, user), tag)


def told_to_viewers(before: Space, user: str) -> bool:
    """Whether a removal of `user` from `before` is told to viewers by tag. Not for someone on stage:
    a stage role always joins the room, whose SFU disconnects them, and a tag that appears as they
    leave the stage's lists would say whose tag it is."""
    return not before.on_stage(user)


def latest(removals: Mapping[str, int]) -> dict[str, int]:
    """The REMOVED_VIEWERS_MAX latest removals (tag -> epoch ms) of those stored, for the metadata."""
    newest = sorted(removals.items(), key=lambda kv: (kv[1], kv[0]))[-REMOVED_VIEWERS_MAX:]
    return dict(newest)
