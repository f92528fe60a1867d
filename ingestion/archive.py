"""Content-addressed archive of every received file: kept forever, never overwritten.

Department files hold clear personal data: archived files are created 0600 in 0700
directories (warehouse.private_files), whatever the process umask.
"""
from __future__ import annotations

from pathlib import Path

from ingestion.landing import file_digest
from warehouse.private_files import PRIVATE_DIR, PRIVATE_FILE, copy_file, make_dirs

__all__ = ["archive_file", "file_digest"]


def archive_file(path: Path, sha256: str, archive_dir: Path, feed_id: str) -> Path:
    """Copy into archive/<feed>/<sha[:2]>/<sha><ext>; an identical file already there is kept."""
    target = archive_dir / feed_id / sha256[:2] / f"{sha256}{path.suffix.lower()}"
    if target.exists():
        return target
    make_dirs(target.parent, PRIVATE_DIR)
    return copy_file(path, target, PRIVATE_FILE)  # atomic: readers never see half a file
