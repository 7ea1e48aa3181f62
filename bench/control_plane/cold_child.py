"""One Lambda cold start: run in a fresh interpreter by cold_start.py. Prints one JSON line.

Measures what a Lambda init + first invoke does: import the handler module, then serve the first
token request (settings, store connection, token signing all happen lazily on that request).
"""

from __future__ import annotations

import json
import sys
import time

T0, C0 = time.perf_counter(), time.process_time()

from functions.handler import handler  # noqa: E402 - the import is what is measured

T_IMPORT, C_IMPORT = time.perf_counter(), time.process_time()

from bench.control_plane.fixture import token_event  # noqa: E402


class Context:
    function_name = "bench"
    aws_request_id = "bench"
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main() -> None:
    space_id = sys.argv[1]
    t1, c1 = time.perf_counter(), time.process_time()
    response = handler(token_event(space_id), Context())
    t2, c2 = time.perf_counter(), time.process_time()
    assert response["statusCode"] == 200, response
    heavy = ["boto3", "botocore", "livekit.api", "livekit.protocol", "aiohttp", "google.protobuf"]
    print(
        json.dumps(
            {
                "import_ms": (T_IMPORT - T0) * 1000,
                "first_request_ms": (t2 - t1) * 1000,
                "total_ms": (T_IMPORT - T0 + t2 - t1) * 1000,
                # CPU time: what the same work costs without the other tenants of a shared machine.
                "total_cpu_ms": (C_IMPORT - C0 + c2 - c1) * 1000,
                "loaded": [m for m in heavy if m in sys.modules],
            }
        )
    )


if __name__ == "__main__":
    main()
