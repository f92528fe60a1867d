"""Read the reference seeds (dbt_project/seeds/ref_*.csv).

The generator takes divisions, catalogues and departments from the same files dbt
loads, so sample data and the warehouse reference can never drift apart.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SEEDS_DIR = REPO_ROOT / "dbt_project" / "seeds"


@dataclass(frozen=True)
class DivisionRow:
    """One row of ref_divisions.csv."""

    code: str
    name: str
    level: str  # city | county | county_historical | street | community
    parent_code: str
    kind: str  # 地级市, 市辖区, 县, 功能区, 街道, 镇, 社区 …
    county_code: str
    is_functional_zone: bool


@dataclass(frozen=True)
class CatalogRow:
    """One row of ref_purchase_catalog.csv."""

    code: str
    level: int
    parent_code: str
    name: str


@dataclass(frozen=True)
class PlatformRow:
    """One row of ref_incubation_platforms.csv."""

    name: str
    level: str  # 市级 | 县级
    county_code: str


def _read(name: str, seeds_dir: Path | None = None) -> list[dict[str, str]]:
    path = (seeds_dir or SEEDS_DIR) / name
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_divisions(seeds_dir: Path | None = None) -> dict[str, DivisionRow]:
    """Division code → row, in file order (parents before children)."""
    return {
        r["division_code"]: DivisionRow(
            code=r["division_code"],
            name=r["division_name"],
            level=r["level"],
            parent_code=r["parent_code"],
            kind=r["division_kind"],
            county_code=r["county_code"],
            is_functional_zone=r["is_functional_zone"].strip().lower() == "true",
        )
        for r in _read("ref_divisions.csv", seeds_dir)
    }


def load_catalog(seeds_dir: Path | None = None) -> list[CatalogRow]:
    """All purchase-catalogue rows (levels 1–3) in file order."""
    return [
        CatalogRow(r["catalog_code"], int(r["level"]), r["parent_code"], r["item_name"])
        for r in _read("ref_purchase_catalog.csv", seeds_dir)
    ]


def load_departments(seeds_dir: Path | None = None) -> dict[str, str]:
    """Department code → name, in file order."""
    return {r["department_code"]: r["department_name"] for r in _read("ref_departments.csv", seeds_dir)}


def load_platforms(seeds_dir: Path | None = None) -> list[PlatformRow]:
    """Incubation platforms ("1+7")."""
    return [
        PlatformRow(r["platform_name"], r["level"], r["county_code"])
        for r in _read("ref_incubation_platforms.csv", seeds_dir)
    ]


def load_work_items(seeds_dir: Path | None = None) -> list[tuple[str, str, str]]:
    """(item_code, list_type, item_name) of the community work-item lists."""
    return [(r["item_code"], r["list_type"], r["item_name"]) for r in _read("ref_community_work_items.csv", seeds_dir)]
