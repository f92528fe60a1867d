"""What a publication is built from: project commit, tool versions, input files.

Recorded when a publication starts (`audit.publication_lineage`), so a number in the
marts can be traced to the code that computed it and the files it came from. A
checkout without git (a tarball, a container image) records no commit, never fails.
"""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from warehouse.settings import REPO_ROOT

PACKAGES = ("dbt-core", "dbt-postgres", "great-expectations", "apache-airflow", "psycopg")


def git_commit() -> tuple[str | None, bool | None]:
    """(commit, has uncommitted changes) of the project checkout; (None, None) without git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def tool_versions(conn: psycopg.Connection) -> dict[str, Any]:
    versions: dict[str, Any] = {"python": platform.python_version(),
                                "postgresql": conn.execute("show server_version").fetchone()[0]}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def record_lineage(conn: psycopg.Connection, publication_id: int, batches: list[int]) -> None:
    """One row per publication attempt; inputs name every batch's feed, file and sha256."""
    commit, dirty = git_commit()
    inputs = [{"batch_id": b, "feed_id": f, "file_name": n, "sha256": s} for b, f, n, s in conn.execute(
        "select batch_id, feed_id, file_name, sha256 from audit.ingestion_batches where batch_id = any(%s) "
        "order by batch_id", (batches,))]
    conn.execute("insert into audit.publication_lineage (publication_id, git_commit, git_dirty, versions, inputs) "
                 "values (%s, %s, %s, %s, %s) on conflict (publication_id) do nothing",
                 (publication_id, commit, dirty, Jsonb(tool_versions(conn)), Jsonb(inputs)))
