"""Content-addressed archive of every received file: kept forever, never overwritten."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ingestion.landing import file_digest

__all__ = ["archive_file", "file_digest"]


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
