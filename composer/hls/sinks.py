"""Where a broadcast's objects go: a local directory or an S3 bucket.

A sink writes one whole object at a time, atomically: a reader sees the previous version or the new
one, never a partial file. Retrying and ordering are the publisher's job, not the sink's.

One object, the full playlist, is also written conditionally (`write_if`): only if it is still the
version this writer last read or wrote, as a compare-and-swap. That is the fence between two
composers of one Space (docs/broadcast.md, "Two writers"): a write over someone else's version fails
with `WriteConflict` instead of replacing it. S3 does it with conditional PUTs (If-Match on the
ETag, If-None-Match for the first); the disk sink with a lock file and a content hash.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from contract.names import BROADCAST_DISCARD_TAG_KEY as DISCARD_TAG_KEY
from contract.names import BROADCAST_DISCARD_TAG_VALUE as DISCARD_TAG_VALUE

log = logging.getLogger(__name__)


def discarding(sink: Sink) -> Sink:
    """`sink`, for the broadcast of a Space whose host kept no recording (Space.record false): on
    S3 its objects carry the tag the bucket deletes after a day. The disk sink of `make dev` keeps
    them like any other (the API offers no replay of such a Space either way)."""
    return sink.discarding() if isinstance(sink, S3Sink) else sink


class WriteConflict(Exception):
    """The object is no longer the version the conditional write expected (someone else wrote it)."""


class Sink(Protocol):
    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        """Store `data` under `key` ("<space_id>/<name>") atomically; raise on failure."""
        ...

    def read(self, key: str) -> bytes | None:
        """The object under `key`, or None when there is none."""
        ...

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The object under `key` and its version (an opaque token), or None when there is none."""
        ...

    def write_if(
        self, key: str, data: bytes, *, version: str | None, content_type: str, cache_control: str
    ) -> str:
        """Write only if the object is still `version` (None: only if there is none); return the new
        version. Raise WriteConflict if it is not, and the sink's error on any other failure."""
        ...


def _check_key(key: str) -> None:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"broadcast object key must be a relative path without '.' or '..': {key!r}")


class ContentVersioned:
    """`read_versioned` and `write_if` for a sink whose versions are content hashes: a
    compare-and-swap under the sink's own `_locked(key)`, around its `read` and `write`."""

    def read(self, key: str) -> bytes | None:
        raise NotImplementedError

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        raise NotImplementedError

    def _locked(self, key: str) -> AbstractContextManager[object]:
        raise NotImplementedError

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        data = self.read(key)
        return None if data is None else (data, content_version(data))

    def write_if(
        self, key: str, data: bytes, *, version: str | None, content_type: str, cache_control: str
    ) -> str:
        with self._locked(key):
            stored = self.read(key)
            current = None if stored is None else content_version(stored)
            if current != version:
                raise WriteConflict(f"{key} is at version {current}, not {version}")
            self.write(key, data, content_type=content_type, cache_control=cache_control)
        return content_version(data)


class DiskSink(ContentVersioned):
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

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """An exclusive flock on a lock file beside the object: every writer on this machine, across
        processes, for the compare-and-swap of `write_if`."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f".{target.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def content_version(data: bytes) -> str:
    """The version of an object on disk: its content's hash (each composer's playlist names its own
    segments, so two writers never store the same bytes)."""
    return hashlib.sha256(data).hexdigest()


class S3Sink:
    """Writes to `s3://bucket/<prefix><key>` with the object's Content-Type and Cache-Control.

    A PUT replaces an object atomically, so the playlist is never seen half-written. `client` is a
    boto3 S3 client; the composer's has short timeouts and two attempts of its own
    (composer/settings.py `s3_client_config`), and the publisher retries on top with a longer backoff.
    """

    def __init__(self, bucket: str, prefix: str, client: Any, *, discard: bool = False) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.client = client
        # Every object written carries the tag the bucket's lifecycle rule deletes after a day
        # (a Space whose host kept no recording: `discarding`).
        self.discard = discard
        self._tagging = {"Tagging": f"{DISCARD_TAG_KEY}={DISCARD_TAG_VALUE}"} if discard else {}

    def discarding(self) -> S3Sink:
        """The same place, for a broadcast nobody keeps: its objects are tagged for deletion."""
        return S3Sink(self.bucket, self.prefix, self.client, discard=True)

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
            **self._tagging,
        )

    def write_if(
        self, key: str, data: bytes, *, version: str | None, content_type: str, cache_control: str
    ) -> str:
        """A conditional PUT: If-Match the ETag last read or written, or If-None-Match "*" for the
        first. S3 answers 412 PreconditionFailed when the object has changed, 404 NoSuchKey when an
        If-Match finds it gone (409, a conditional write racing another, is an ordinary failure: the
        publisher retries it)."""
        condition = {"IfMatch": version} if version is not None else {"IfNoneMatch": "*"}
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=data,
                ContentType=content_type,
                CacheControl=cache_control,
                **condition,
                **self._tagging,
            )
        except self.client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            # If-Match on an object that is gone answers 404 NoSuchKey rather than 412.
            if code == "PreconditionFailed" or (version is not None and code in ("NoSuchKey", "404")):
                raise WriteConflict(f"{key} changed since version {version}") from exc
            raise
        return str(response["ETag"])

    def read(self, key: str) -> bytes | None:
        stored = self.read_versioned(key)
        return None if stored is None else stored[0]

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body, str(response["ETag"])
