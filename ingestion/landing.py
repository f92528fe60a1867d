"""The landing-folder rules, in one place for the watcher and the loader.

A department delivers a file by dropping it into ``<landing>/<feed_id>/``. Which names
count as a finished delivery, where a claimed file goes and how a file's content is
identified are decided here only: the Airflow watcher (``dags/common/landing_trigger``)
claims with these rules and the intake (``ingestion.intake``) takes files with them,
so the two can never disagree about a half-written ``report.xlsx.PART``.

Standard library only: the triggerer imports this module.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

CLAIMED_DIR = ".claimed"
"""Where the watcher moves a file it has claimed, inside the feed's landing folder."""

IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart", ".swp")
"""Name endings of files still being written (compared case-insensitively)."""


def is_candidate_name(name: str) -> bool:
    """A name that may be a finished delivery: not hidden, not an upload in progress."""
    return bool(name) and not name.startswith(".") and not name.lower().endswith(IN_PROGRESS_SUFFIXES)


def is_candidate(path: Path) -> bool:
    """A finished delivery: a candidate name that is a regular file (or a link, refused later if it escapes)."""
    return is_candidate_name(path.name) and (path.is_symlink() or path.is_file())


def pending_files(folder: Path) -> list[Path]:
    """Every delivery waiting in a feed folder and its ``.claimed/`` folder, oldest first."""
    files = [p for p in (folder / CLAIMED_DIR).glob("*") if is_candidate(p)]
    files += [p for p in folder.glob("*") if is_candidate(p)]
    return sorted(files, key=lambda p: (p.lstat().st_mtime, p.name))


def claim(path: Path) -> Path | None:
    """Move ``path`` into ``.claimed/`` next to it by atomic rename.

    Returns the claimed path, or ``None`` when somebody else moved the file first
    (another triggerer, an ingest task taking it directly). A name already taken in
    ``.claimed/`` (the same name delivered twice before the first was ingested) gets a
    numbered suffix, so nothing is overwritten.
    """
    claimed_dir = path.parent / CLAIMED_DIR
    claimed_dir.mkdir(exist_ok=True)
    target = claimed_dir / path.name
    n = 1
    while target.exists():
        target = claimed_dir / f"{path.stem}~{n}{path.suffix}"
        n += 1
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 and size, streamed (files can be gigabytes): the identity of a delivery.

    Reads of 8 MB: each read and hash releases the GIL, and a load hashes while the vector
    engine imports in a thread; with 1 MB reads the hand-overs made hashing 5× slower.
    """
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
