"""Content-addressed archive of every received file: kept forever, never overwritten."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 and size, streamed (files can be gigabytes)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def archive_file(path: Path, sha256: str, archive_dir: Path, feed_id: str) -> Path:
    """Copy into archive/<feed>/<sha[:2]>/<sha><ext>; an identical file already there is kept."""
    target = archive_dir / feed_id / sha256[:2] / f"{sha256}{path.suffix.lower()}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(path, partial)
    os.replace(partial, target)  # atomic: readers never see half a file
    return target
