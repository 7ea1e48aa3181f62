"""Debian's nginx as a CDN edge: a caching reverse proxy in front of an HLS origin.

What it shares with CloudFront's behaviour for the broadcast (docs/bench/broadcast.md):
- it honours the origin's `Cache-Control` (no `proxy_cache_valid`, no ignored headers): segments
  are kept for their immutable max-age, a live playlist for 1 s;
- concurrent misses of one object are collapsed into one origin request (`proxy_cache_lock`);
- an expired playlist is revalidated with a conditional request (`proxy_cache_revalidate`), and
  while one request revalidates, the others get the copy in hand (`proxy_cache_use_stale updating`).
Each response says what the cache did in `X-Cache` (HIT, MISS, EXPIRED, REVALIDATED, UPDATING).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.hls_origin import free_port, wait_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# Limits chosen for the fan-out benchmark (2,000+ clients, each with its own keep-alive
# connection, on one machine): connections per worker and open files well above that.
WORKER_CONNECTIONS = 8192
RLIMIT_NOFILE = 16384

CONF = """\
daemon off;
worker_processes {workers};
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections {conns}; }}
http {{
    log_format edge '$msec $request_time $upstream_cache_status $status $uri';
    {access_log}
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
    sendfile on;
    tcp_nopush on;
    proxy_cache_path {dir}/cache levels=1:2 keys_zone=edge:10m max_size=1g inactive=10m
                     use_temp_path=off;
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache edge;
            proxy_cache_key $uri;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 5s;
            proxy_cache_lock_age 5s;
            proxy_cache_revalidate on;
            proxy_cache_use_stale updating error timeout;
            add_header X-Cache $upstream_cache_status always;
        }}
    }}
}}
"""


def render_conf(
    *, workdir: Path, port: int, origin_port: int, workers: int = 1, access_log: bool = False
) -> str:
    user = "user root root;" if os.geteuid() == 0 else ""
    # The access log (time the edge took per request, cache status) is for the benchmark's
    # attribution of latency; it is buffered so that writing it costs little.
    log = f"access_log {workdir}/access.log edge buffer=256k flush=1s;" if access_log else "access_log off;"
    return CONF.format(
        dir=workdir,
        port=port,
        origin_port=origin_port,
        workers=workers,
        user=user,
        conns=WORKER_CONNECTIONS,
        nofile=RLIMIT_NOFILE,
        access_log=log,
    )


@contextlib.contextmanager
def nginx_cdn(
    origin_url: str, workdir: Path, *, workers: int = 1, port: int | None = None, access_log: bool = False
) -> Iterator[str]:
    """Start nginx in front of `origin_url` (http://127.0.0.1:PORT); yields the edge's base URL."""
    origin_port = int(origin_url.rsplit(":", 1)[1].split("/")[0])
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(
        render_conf(
            workdir=workdir, port=port, origin_port=origin_port, workers=workers, access_log=access_log
        )
    )
    proc = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")])
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
