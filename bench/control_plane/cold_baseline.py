"""The floor for cold_child.py: a one-route FastAPI app behind Mangum, nothing of ours.

Run by cold_start.py in a fresh interpreter; prints the same JSON line as cold_child.py, so the
report can show how much of the cold start is the framework and how much is the control plane.
"""

from __future__ import annotations

import json
import sys
import time

T0, C0 = time.perf_counter(), time.process_time()

from fastapi import FastAPI  # noqa: E402
from mangum import Mangum  # noqa: E402

app = FastAPI()


@app.post("/spaces/{space_id}/token")
async def token(space_id: str) -> dict[str, str]:
    return {"space_id": space_id}


handler = Mangum(app, lifespan="off")
T_IMPORT, C_IMPORT = time.perf_counter(), time.process_time()

from bench.control_plane.cold_child import Context  # noqa: E402
from bench.control_plane.fixture import token_event  # noqa: E402

if __name__ == "__main__":
    t1, c1 = time.perf_counter(), time.process_time()
    response = handler(token_event(sys.argv[1]), Context())
    t2, c2 = time.perf_counter(), time.process_time()
    assert response["statusCode"] == 200, response
    print(
        json.dumps(
            {
                "import_ms": (T_IMPORT - T0) * 1000,
                "first_request_ms": (t2 - t1) * 1000,
                "total_ms": (T_IMPORT - T0 + t2 - t1) * 1000,
                "total_cpu_ms": (C_IMPORT - C0 + c2 - c1) * 1000,
                "loaded": [],
            }
        )
    )
