"""A composer stand-in for the resume test: feeds a Broadcast in real time until it is killed.

python -m tests.integration.composer.live_feed <root> <space_id> <epoch_ms>
"""

from __future__ import annotations

import sys
import time

from composer.hls import Broadcast, BroadcastConfig, DiskSink
from tests.integration.composer.media import Feeder

CONFIG = BroadcastConfig(width=320, height=180)


def main(root: str, space_id: str, epoch_ms: int) -> None:
    broadcast = Broadcast.resume(CONFIG, DiskSink(root), space_id=space_id, epoch_ms=epoch_ms)
    broadcast.record_stage(
        {"spotlight": "alice", "video_spotlight": "alice", "pinned": None, "names": {"alice": "Alice"}}
    )
    feeder = Feeder(CONFIG)
    start = time.monotonic()
    while True:  # until SIGKILL: this process never closes its broadcast
        feeder.feed(broadcast, 1 / CONFIG.fps)
        ahead = feeder.frames / CONFIG.fps - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
