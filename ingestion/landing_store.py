"""The landing zone as storage operations: a local folder, or object storage by fsspec URL.

``LANDING_URI`` is a path (or ``file://``) or any fsspec URL such as ``s3://bucket/prefix``.
The rules — which names are finished deliveries, the ``.claimed/`` folder, the digest —
stay in ``ingestion.landing``; this module only lists, claims, reads and deletes on the
storage behind the URI, for the Airflow watcher and the intake alike. A path keeps the
behaviour it always had (atomic rename into ``.claimed/``).

Claiming on object storage, where there is no atomic rename: the watcher copies the
object it listed to a key of its own, ``.claimed/<etag>~<random>/<name>``, asking the
server to copy only that version (``CopySourceIfMatch``; AWS S3, MinIO and Ceph honour
it), then deletes the original only if it still has that ETag. A claim never writes a
key anybody else writes, so nothing is overwritten whatever the server supports. Two
watchers on two machines claiming the same object at once leave two claimed copies:
the intake reads both, and ``load_file`` (a per-(feed, sha256) advisory lock, then the
sha256 lookup in ``audit.ingestion_batches``) loads the content once and records the
second read as a ``duplicate`` batch — a double read is harmless and counted. A
re-upload under the same name has a new ETag: it is neither deleted with the old one
nor lost (the one window left: an overwrite between the ETag check and the delete,
milliseconds; departments should deliver new names).

Credentials come from the environment of the process (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_ENDPOINT_URL`` / a role), as fsspec's backends read
them; never from a file in the repository, never logged (only the URI is).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestion import landing


@dataclass(frozen=True)
class Delivery:
    """One finished delivery waiting in the landing zone (claimed or not)."""

    feed_id: str
    name: str  # the delivered file name, as audit records it
    location: str  # a local path, or the object's path in the store
    size: int
    version: str  # changes when the content may have: mtime locally, the ETag in a store
    modified: float  # epoch seconds
    claimed: bool


def is_remote(uri: str) -> bool:
    """True for an fsspec URL other than file:// (``s3://…``, ``gs://…``, ``memory://…``)."""
    return "://" in uri and not uri.startswith("file://")


def open_store(uri: str | None = None) -> LocalLanding | ObjectLanding:
    """The landing zone behind ``uri`` (default: the settings' ``LANDING_URI``)."""
    if uri is None:
        from warehouse.settings import get_settings

        uri = get_settings().landing_uri
    if is_remote(uri):
        from urllib.parse import urlsplit

        if "@" in urlsplit(uri).netloc:  # never echo it: it may hold a secret
            raise ValueError("LANDING_URI carries credentials (user@host); give them through the environment "
                             "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or a role instead")
        return ObjectLanding(uri)
    return LocalLanding(Path(uri.removeprefix("file://")).resolve())


class LocalLanding:
    """A folder (local disk or a shared volume): the rules of ``ingestion.landing`` as they are."""

    atomic_uploads = False  # a file may still be growing: the watcher waits until it is stable

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = str(root)

    def feed_location(self, feed_id: str) -> str:
        return str(self.root / feed_id)

    def _delivery(self, feed_id: str, path: Path, claimed: bool) -> Delivery | None:
        try:
            stat = path.lstat()
        except FileNotFoundError:
            return None
        return Delivery(feed_id, path.name, str(path), stat.st_size, str(stat.st_mtime_ns), stat.st_mtime, claimed)

    def waiting(self, feed_id: str) -> list[Delivery]:
        """Unclaimed regular files with a candidate name (what the watcher may claim)."""
        folder = self.root / feed_id
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            try:
                if landing.is_candidate_name(entry.name) and entry.is_file(follow_symlinks=False):
                    if (delivery := self._delivery(feed_id, Path(entry.path), False)) is not None:
                        found.append(delivery)
            except FileNotFoundError:
                continue
        return sorted(found, key=lambda d: d.name)

    def claimed(self, feed_id: str) -> list[Delivery]:
        folder = self.root / feed_id / landing.CLAIMED_DIR
        if not folder.is_dir():
            return []
        found = (self._delivery(feed_id, p, True) for p in sorted(folder.iterdir())
                 if p.is_file() and landing.is_candidate_name(p.name))
        return [d for d in found if d is not None]

    def pending(self, feed_id: str) -> list[Delivery]:
        """What the intake takes: ``landing.pending_files`` (links too, refused later if they escape)."""
        folder = self.root / feed_id
        found = (self._delivery(feed_id, p, p.parent.name == landing.CLAIMED_DIR)
                 for p in landing.pending_files(folder))
        return [d for d in found if d is not None]

    def prepare(self, feed_id: str) -> None:
        (self.root / feed_id).mkdir(parents=True, exist_ok=True)

    def claim(self, delivery: Delivery) -> Delivery | None:
        target = landing.claim(Path(delivery.location))
        return None if target is None else self._delivery(delivery.feed_id, target, True)

    @contextmanager
    def local_copy(self, delivery: Delivery) -> Iterator[Path]:
        yield Path(delivery.location)

    def remove(self, delivery: Delivery) -> None:
        Path(delivery.location).unlink(missing_ok=True)

    def digest(self, delivery: Delivery) -> tuple[str, int]:
        return landing.file_digest(Path(delivery.location))


class ObjectLanding:
    """Object storage through fsspec (s3fs for ``s3://``); see the module docstring for claiming."""

    atomic_uploads = True  # an object is visible only once its upload completed

    def __init__(self, uri: str) -> None:
        import fsspec

        self.uri = uri.rstrip("/")
        # No listing cache: another machine's claim must be seen on the next poll.
        self.fs, self.root = fsspec.core.url_to_fs(self.uri, use_listings_cache=False, skip_instance_cache=True)
        self.root = self.root.rstrip("/")
        self._s3 = "s3" in self.fs.protocol or "s3a" in self.fs.protocol

    def feed_location(self, feed_id: str) -> str:
        return f"{self.root}/{feed_id}"

    def _delivery(self, feed_id: str, info: dict[str, Any], claimed: bool) -> Delivery:
        modified = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
        if isinstance(modified, datetime):
            modified = modified.timestamp()
        version = str(info.get("ETag") or info.get("etag") or f"{info.get('size')}-{modified}").strip('"')
        return Delivery(feed_id, info["name"].rsplit("/", 1)[-1], info["name"], int(info.get("size") or 0),
                        version, float(modified), claimed)

    def _list(self, path: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
        try:
            found = self.fs.find(path, detail=True, **kwargs)
        except FileNotFoundError:
            return {}
        return found if isinstance(found, dict) else {}

    def waiting(self, feed_id: str) -> list[Delivery]:
        """Objects directly under ``<feed_id>/`` with a candidate name."""
        prefix = self.feed_location(feed_id) + "/"
        found = []
        for key, info in self._list(self.feed_location(feed_id), maxdepth=1).items():
            name = key[len(prefix):] if key.startswith(prefix) else ""
            if info.get("type") == "file" and "/" not in name and landing.is_candidate_name(name):
                found.append(self._delivery(feed_id, info, False))
        return sorted(found, key=lambda d: d.name)

    def claimed(self, feed_id: str) -> list[Delivery]:
        """Objects at ``<feed_id>/.claimed/<version>/<name>``."""
        prefix = f"{self.feed_location(feed_id)}/{landing.CLAIMED_DIR}/"
        found = []
        for key, info in self._list(prefix.rstrip("/")).items():
            parts = key[len(prefix):].split("/") if key.startswith(prefix) else []
            if len(parts) == 2 and landing.is_candidate_name(parts[1]) and info.get("type") == "file":
                found.append(self._delivery(feed_id, info, True))
        return sorted(found, key=lambda d: (d.modified, d.name))

    def pending(self, feed_id: str) -> list[Delivery]:
        """Claimed first, then waiting ones, oldest first within each (as ``landing.pending_files``)."""
        return self.claimed(feed_id) + sorted(self.waiting(feed_id), key=lambda d: (d.modified, d.name))

    def prepare(self, feed_id: str) -> None:
        """Nothing to create: object stores have no folders."""

    def _still(self, delivery: Delivery) -> bool:
        try:
            return self._delivery(delivery.feed_id, self.fs.info(delivery.location), delivery.claimed).version \
                == delivery.version
        except FileNotFoundError:
            return False

    def claim(self, delivery: Delivery) -> Delivery | None:
        """Copy to ``.claimed/<etag>~<random>/<name>`` if the object is still this version, then delete it."""
        import secrets

        tag = "".join(c for c in delivery.version if c.isalnum() or c in "-_")[:40] + "~" + secrets.token_hex(4)
        target = f"{self.feed_location(delivery.feed_id)}/{landing.CLAIMED_DIR}/{tag}/{delivery.name}"
        condition = {"CopySourceIfMatch": f'"{delivery.version}"'} if self._s3 else {}
        try:
            self.fs.cp_file(delivery.location, target, **condition)
        except FileNotFoundError:
            return None  # claimed (or taken by an intake) elsewhere
        except OSError as exc:
            if "PreconditionFailed" in str(exc) or "412" in str(exc):
                return None  # replaced meanwhile: the new version is claimed on a later poll
            raise
        if self._still(delivery):
            self.fs.rm_file(delivery.location)
        return self._delivery(delivery.feed_id, self.fs.info(target), True)

    @contextmanager
    def local_copy(self, delivery: Delivery) -> Iterator[Path]:
        """Download into a private temp folder under the delivered name; removed afterwards."""
        folder = Path(tempfile.mkdtemp(prefix="gov-landing-"))
        try:
            path = folder / delivery.name
            self.fs.get_file(delivery.location, str(path))
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def remove(self, delivery: Delivery) -> None:
        """Delete after archiving; a waiting object only if nobody re-uploaded it meanwhile."""
        if delivery.claimed or self._still(delivery):
            try:
                self.fs.rm_file(delivery.location)
            except FileNotFoundError:
                pass

    def digest(self, delivery: Delivery) -> tuple[str, int]:
        import hashlib

        sha = hashlib.sha256()
        size = 0
        with self.fs.open(delivery.location, "rb") as handle:
            while chunk := handle.read(1 << 20):
                sha.update(chunk)
                size += len(chunk)
        return sha.hexdigest(), size
