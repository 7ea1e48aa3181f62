"""Where a broadcast's objects go: a local directory or an S3 bucket.

A sink writes one whole object at a time, atomically: a reader sees the previous version or the new
one, never a partial file. Retrying and ordering are the publisher's job, not the sink's.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Sink(Protocol):
    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        """Store `data` under `key` ("<space_id>/<name>") atomically; raise on failure."""
        ...

    def read(self, key: str) -> bytes | None:
        """The object under `key`, or None when there is none."""
        ...


def _check_key(key: str) -> None:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"broadcast object key must be a relative path without '.' or '..': {key!r}")


class DiskSink:
    """Writes under a local directory (`make dev`); the API serves it with `cache_headers`.

    Every object is written to a temporary file in the same directory, flushed, then renamed over
    the final name (os.replace is atomic on POSIX), so the HTTP server never serves a half-written
    segment or playlist. Content type and cache control are not stored: the server derives them
    from the name (composer.hls.cache_headers).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                self._write_bytes(fh, data)
                fh.flush()
                os.fsync(fh.fileno())
            # mkstemp creates 0600; the objects are public (a web server may run as another user).
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _write_bytes(self, fh: Any, data: bytes) -> None:
        fh.write(data)

    def read(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None


class S3Sink:
    """Writes to `s3://bucket/<prefix><key>` with the object's Content-Type and Cache-Control.

    A PUT replaces an object atomically, so the playlist is never seen half-written. `client` is a
    boto3 S3 client; the composer's has short timeouts and two attempts of its own
    (composer/settings.py `s3_client_config`), and the publisher retries on top with a longer backoff.
    """

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.client = client

    def object_key(self, key: str) -> str:
        _check_key(key)
        return self.prefix + key

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.object_key(key),
            Body=data,
            ContentType=content_type,
            CacheControl=cache_control,
        )

    def read(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body
