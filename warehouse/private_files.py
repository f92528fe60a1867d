"""Files that hold data are created with their final mode: never readable by others, never chmod-ed after.

The process umask decides nothing here (it can only narrow a mode further): a file is
opened with O_CREAT|O_EXCL and its mode, under a temporary name, and renamed into place;
missing directories are made one level at a time with theirs. Archived department files
hold clear personal data: 0600/0700. Reports hold masked values for auditors: 0640/0750,
so that a reader in the owner's group (the web server that serves the report site) can.
"""
from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700  # clear personal data (the archive)
GROUP_FILE, GROUP_DIR = 0o640, 0o750  # masked data for a group of readers (the reports)


def make_dirs(path: Path, mode: int = PRIVATE_DIR) -> Path:
    """Create `path` and each missing parent with `mode`; existing directories are left as they are."""
    missing, level = [], path
    while not level.exists() and level.parent != level:
        missing.append(level)
        level = level.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:  # made by a concurrent writer meanwhile
            pass
    return path


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")


def write_file(path: Path, data: str | bytes, mode: int = PRIVATE_FILE) -> Path:
    """Write `data` whole under a temporary name created with `mode`, then rename it into place (atomic)."""
    tmp = _temp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def copy_file(source: Path, target: Path, mode: int = PRIVATE_FILE) -> Path:
    """Copy `source` to `target` created with `mode`; readers never see half a file."""
    tmp = _temp_beside(target)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    try:
        shutil.copyfile(source, tmp)  # into the file created with `mode`; the kernel copies (sendfile)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target

