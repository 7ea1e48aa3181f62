"""Debian's nginx as a CDN edge: a caching reverse proxy in front of an HLS origin.

What it shares with CloudFront's behaviour for the broadcast (docs/bench/broadcast.md):
- it honours the origin's `Cache-Control` (no `proxy_cache_valid`, no ignored headers; `s-maxage`
  before `max-age`, as CloudFront does): segments are kept for their immutable max-age, a live
  playlist for 1 s, an error without cache headers (a segment asked for before it exists) not at all;
- concurrent misses of one object are collapsed into one origin request (`proxy_cache_lock`);
- an expired playlist is revalidated with a conditional request (`proxy_cache_revalidate`), and
  while one request revalidates, the others get the copy in hand (`proxy_cache_use_stale
  updating`); the request that revalidates waits for the new copy (no background update), so the
  edge never hands out a playlist older than its lifetime plus one origin round trip.
- A 1 s lifetime ends within 1 s, as on CloudFront. nginx's cache clock counts whole seconds, so
  alone it keeps a 1 s object until the end of the *next* whole second (1-2 s, measured: ~0.5
  playlist fetches per second at the origin). A second server block in the same nginx (the
  "clock" hop, between edge and origin) turns a 1 s shared-cache lifetime into `X-Accel-Expires`
  at the end of the current whole second, which nginx's clock can represent: 0-1 s, mean 0.5 s,
  the same staleness a viewer sees behind CloudFront's 1 s TTL refreshed by a steady audience.
  The edge strips `X-Accel-Expires` (nginx's default), viewers never see it.
- `/avatars` (the API's avatar proxy) is keyed on its `url` parameter alone and gets nothing else
  of the viewer, as CloudFront's avatar behaviour (infrastructure/constructs/broadcast_delivery.py).
Each response says what the cache did in `X-Cache` (HIT, MISS, EXPIRED, REVALIDATED, UPDATING).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from contract import names
from devstack.ports import free_port
from devstack.processes import ManagedProcess, tcp_open

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# Limits chosen for the fan-out benchmark (2,000+ clients, each with its own keep-alive
# connection, on one machine): connections per worker and open files well above that.
WORKER_CONNECTIONS = 8192
RLIMIT_NOFILE = 16384
# How long a request that found a segment being fetched by another waits for it before it looks
# again. nginx polls a held cache lock every 500 ms (fixed), so without a shorter timeout a viewer
# who asked a few ms after the first one waits half a second for a segment the origin returned in
# a few ms (the tail of the edge's own time in docs/bench/broadcast.md). At the timeout nginx looks
# at the cache again and serves the segment if the first fetch has stored it (measured: origin
# requests per segment stay 1.00); only if it has not would the request go to the origin itself,
# uncached. 200 ms is several origin fetches of a segment here; CloudFront's request collapsing
# hands the object to the waiters when it arrives, so the shorter wait is closer to it, not kinder.
LOCK_TIMEOUT = "200ms"

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
    # The origin's own name as Host, as CloudFront sends its origin's domain (nginx would send the
    # upstream's name, "origin", which the local API refuses as a foreign host).
    map $uri $origin_host {{
        default "127.0.0.1:{origin_port}";
    }}
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 16;
    }}
    upstream clock {{
        server 127.0.0.1:{clock_port};
        keepalive 16;
    }}
    # The whole second now, and the lifetime nginx can represent for an object the origin lets a
    # shared cache keep for 1 s: until the end of this second (see the module's docstring).
    map $msec $now_s {{
        "~^(?<s>[0-9]+)" $s;
    }}
    map $upstream_http_cache_control $clock_expires {{
        "~s-maxage=1(,|$| )" "@$now_s";
        default "";
    }}
    server {{
        listen 127.0.0.1:{clock_port};
        access_log off;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $origin_host;
            add_header X-Accel-Expires $clock_expires;
        }}
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $origin_host;
        proxy_cache edge;
        proxy_cache_key $uri;
        # One origin request per new object: the others wait for it, LOCK_TIMEOUT at most before
        # they look at the cache again; past lock_age a second request may go to the origin
        # (docs/bench/broadcast.md, limits).
        proxy_cache_lock on;
        proxy_cache_lock_timeout {lock_timeout};
        proxy_cache_lock_age 5s;
        proxy_cache_revalidate on;
        proxy_cache_use_stale updating error timeout;
        proxy_cache_background_update off;
        add_header X-Cache $upstream_cache_status always;
        # Live playlists and the timeline: through the clock hop (sub-second lifetimes).
        location ~ \\.(m3u8|json)$ {{
            proxy_pass http://clock;
        }}
        # The avatar proxy, as CloudFront's /avatars behaviour has it: the cache key and the request
        # to the origin carry the picture URL only (no other parameter, no cookie, no credentials).
        location = {avatar_path} {{
            proxy_cache_key $uri?{avatar_param}=$arg_{avatar_param};
            proxy_set_header Cookie "";
            proxy_set_header Authorization "";
            proxy_set_header Connection "";
            proxy_set_header Host $origin_host;
            proxy_pass http://origin$uri?{avatar_param}=$arg_{avatar_param};
        }}
        # Segments (immutable) and anything else: straight to the origin.
        location / {{
            proxy_pass http://origin;
        }}
    }}
}}
"""


def render_conf(
    *,
    workdir: Path,
    port: int,
    origin_port: int,
    clock_port: int,
    workers: int = 1,
    access_log: bool = False,
) -> str:
    user = "user root root;" if os.geteuid() == 0 else ""
    # The access log (time the edge took per request, cache status) is for the benchmark's
    # attribution of latency; it is buffered so that writing it costs little.
    log = f"access_log {workdir}/access.log edge buffer=256k flush=1s;" if access_log else "access_log off;"
    return CONF.format(
        dir=workdir,
        port=port,
        origin_port=origin_port,
        clock_port=clock_port,
        lock_timeout=LOCK_TIMEOUT,
        workers=workers,
        user=user,
        conns=WORKER_CONNECTIONS,
        nofile=RLIMIT_NOFILE,
        access_log=log,
        avatar_path=names.AVATAR_PATH,
        avatar_param=names.AVATAR_URL_PARAM,
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
            workdir=workdir,
            port=port,
            origin_port=origin_port,
            clock_port=free_port(),
            workers=workers,
            access_log=access_log,
        )
    )
    proc = ManagedProcess(
        "nginx-cdn", [NGINX, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")]
    )
    try:
        proc.wait_until(tcp_open(port), timeout=15, what="listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop(timeout=10)
