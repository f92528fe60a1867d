"""The bits of a feed contract the generator needs: format, encoding, headers.

Read straight from ingestion/specs/<feed_id>.yml so the generator writes exactly
the headers a department would, in contract order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ingestion.generate.reference import REPO_ROOT

SPECS_DIR = REPO_ROOT / "ingestion" / "specs"


@dataclass(frozen=True)
class FeedLayout:
    """File layout of one feed as the contract describes it."""

    feed_id: str
    format: str  # xlsx | csv | jsonl
    encoding: str  # for csv; utf-8 otherwise
    headers: tuple[str, ...]

    @property
    def extension(self) -> str:
        return self.format


def load_layout(feed_id: str, specs_dir: Path | None = None) -> FeedLayout:
    """Parse one spec file into a FeedLayout."""
    path = (specs_dir or SPECS_DIR) / f"{feed_id}.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    return FeedLayout(
        feed_id=spec["feed_id"],
        format=spec["format"],
        encoding=spec.get("encoding", "utf-8"),
        headers=tuple(col["header"] for col in spec["columns"]),
    )


def feed_ids(specs_dir: Path | None = None) -> list[str]:
    """All feed ids with a contract, sorted."""
    return sorted(p.stem for p in (specs_dir or SPECS_DIR).glob("*.yml"))
