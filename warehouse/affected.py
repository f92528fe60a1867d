"""Affected-subgraph publications: rebuild only the marts downstream of the feeds that changed.

A mart whose inputs did not change since the last publication holds exactly the rows a
full rebuild would give it, *if* the project (models, macros, seeds, tests, suites, vars,
dbt version, PII key) is the one that built it. So a partial build needs:

* a project fingerprint (dbt project, GX suites and the gate's checks) equal to the one
  of the last published build (and of every build attempt since, since a blocked build
  of another project rewrites shared views and seeds);
* the dependency graph of that very project (saved from the manifest of our own builds,
  keyed by fingerprint, because `target/manifest.json` is overwritten by any dbt command);
* every carried-over mart present as a table in the published `marts`.

Anything else means a full build. Published marts are what auditors trust: a slower
build is always acceptable, a wrong one never.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import psycopg

from warehouse.build import DBT_PROJECT, target_dir
from warehouse.incremental import seed_candidate_from_published
from warehouse.settings import REPO_ROOT

log = logging.getLogger(__name__)

PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "snapshots", "tests")
SUITES_DIR = REPO_ROOT / "expectations" / "suites"
# The gate's own rules: a partial build checks the event facts' new rows only, which is
# sound only if the published rows passed the same checks (warehouse/checks.py).
GATE_FILES = (REPO_ROOT / "warehouse" / "checks.py", REPO_ROOT / "expectations" / "gate.py",
              REPO_ROOT / "warehouse" / "sql" / "20_pii_gate.sql")
GRAPH_FILE = "published_graph.json"


def project_files() -> list[tuple[str, Path]]:
    """Every file that decides what the marts contain, as (repo-relative path, path), sorted."""
    roots = [DBT_PROJECT / part for part in PROJECT_PARTS] + [SUITES_DIR, *GATE_FILES]
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files += [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted((p.relative_to(REPO_ROOT).as_posix(), p) for p in files)


def project_fingerprint(dbt_vars: dict, pii_key: bytes) -> str:
    """sha256 over the project files, the dbt vars, dbt's version and (keyed) the PII key.

    The PII key enters as an HMAC of a constant: person keys in the marts change with it,
    and the fingerprint must not reveal more about it than the marts already do.
    """
    digest = hashlib.sha256()
    for name, path in project_files():
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    digest.update(b"vars\0" + json.dumps(dbt_vars, sort_keys=True).encode())
    for package in ("dbt-core", "dbt-postgres"):
        digest.update(f"{package}=={_version(package)}\0".encode())
    digest.update(hmac.new(pii_key, b"project-fingerprint", hashlib.sha256).digest())
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


@dataclass(frozen=True)
class ProjectGraph:
    """What a partial build needs from dbt's manifest: edges, marts and snapshots."""

    fingerprint: str
    child_map: dict[str, list[str]]
    marts: dict[str, dict[str, str]]  # unique_id -> {"table": alias, "materialized": ...}
    snapshots: dict[str, str]  # unique_id -> name
    sources: list[str]

    def descendants(self, roots: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            for child in self.child_map.get(stack.pop(), []):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen


def graph_from_manifest(manifest: dict, fingerprint: str, candidate_schema: str) -> ProjectGraph:
    nodes = manifest["nodes"]
    marts = {uid: {"table": n["alias"], "materialized": n["config"]["materialized"]} for uid, n in nodes.items()
             if n["resource_type"] == "model" and n["schema"] == candidate_schema}
    snapshots = {uid: n["name"] for uid, n in nodes.items() if n["resource_type"] == "snapshot"}
    return ProjectGraph(fingerprint, manifest["child_map"], marts, snapshots, sorted(manifest["sources"]))


def save_graph(dsn: str, fingerprint: str, candidate_schema: str, built_after: float) -> bool:
    """Keep the graph of the build that just ran, keyed by its fingerprint (false: none written).

    Only a manifest written by that build (mtime after `built_after`) is trusted.
    """
    work = target_dir(dsn)
    manifest_path = work / "target" / "manifest.json"
    graph_path = work / GRAPH_FILE
    graph_path.unlink(missing_ok=True)
    if not manifest_path.exists() or manifest_path.stat().st_mtime < built_after:
        return False
    graph = graph_from_manifest(json.loads(manifest_path.read_text("utf-8")), fingerprint, candidate_schema)
    tmp = graph_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(graph.__dict__), encoding="utf-8")
    tmp.replace(graph_path)
    return True


def load_graph(dsn: str, fingerprint: str) -> ProjectGraph | None:
    path = target_dir(dsn) / GRAPH_FILE
    if not path.exists():
        return None
    graph = ProjectGraph(**json.loads(path.read_text("utf-8")))
    return graph if graph.fingerprint == fingerprint else None


@dataclass
class BuildPlan:
    """Full, or partial: which feeds changed, which marts dbt rebuilds, which are copied."""

    mode: str  # full | partial
    reason: str
    changed_feeds: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)  # tables of affected marts
    carried_over: list[str] = field(default_factory=list)  # tables copied from published marts
    snapshots: list[str] = field(default_factory=list)  # affected snapshot names (partial only)

    @property
    def partial(self) -> bool:
        return self.mode == "partial"

    def build_selection(self) -> list[str]:
        """`--select` arguments for dbt build (none: everything)."""
        if not self.partial:
            return []
        return ["--select", *(f"source:*.{feed}+" for feed in self.changed_feeds)]  # the source is the department

    def snapshot_selection(self) -> list[str] | None:
        """`--select` arguments for dbt snapshot; None when no snapshot is affected."""
        if not self.partial:
            return []
        return ["--select", *self.snapshots] if self.snapshots else None

    def gx_marts(self) -> set[str] | None:
        return set(self.rebuilt) if self.partial else None

    def summary(self) -> dict:
        return {"build_mode": self.mode, "build_mode_reason": self.reason, "changed_feeds": self.changed_feeds,
                "carried_over_marts": self.carried_over}


def full(reason: str) -> BuildPlan:
    return BuildPlan("full", reason)


def last_published(conn: psycopg.Connection) -> tuple[int, list[int], str | None] | None:
    return conn.execute(
        "select publication_id, source_batches, project_fingerprint from audit.publications "
        "where outcome = 'published' order by publication_id desc limit 1").fetchone()


def attempts_since_share(conn: psycopg.Connection, publication_id: int, fingerprint: str) -> bool:
    """Every build attempt since the last publication ran this project (none rewrote shared views or seeds)."""
    return not conn.execute(
        "select exists (select 1 from audit.publications where publication_id >= %s "
        "and project_fingerprint is distinct from %s)", (publication_id, fingerprint)).fetchone()[0]


def changed_feeds(conn: psycopg.Connection, published_batches: list[int]) -> list[str]:
    """Feeds with a loaded batch the last publication did not include, or a published batch no longer loaded.

    A superset of "batch_id above the published high-water mark": it also catches a
    batch that was still loading when the last build started.
    """
    return [r[0] for r in conn.execute(
        "select feed_id from audit.ingestion_batches where status in ('loaded', 'partial') "
        "and not (batch_id = any(%(published)s)) "
        "union select feed_id from audit.ingestion_batches where batch_id = any(%(published)s) "
        "and status not in ('loaded', 'partial') order by 1", {"published": published_batches})]


def published_tables(conn: psycopg.Connection, published: str = "marts") -> set[str]:
    return {r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p')", (published,))}


def plan_build(conn: psycopg.Connection, dsn: str, fingerprint: str, *, force: bool) -> BuildPlan:
    """Decide full or partial; every doubt is a full build."""
    if force:
        return full("forced")
    previous = last_published(conn)
    if previous is None:
        return full("no previous publication")
    publication_id, batches, previous_fingerprint = previous
    if previous_fingerprint != fingerprint:
        return full("project changed since the last publication")
    if not attempts_since_share(conn, publication_id, fingerprint):
        return full("a build of another project ran since the last publication")
    graph = load_graph(dsn, fingerprint)
    if graph is None:
        return full("no dependency graph of the published project")
    feeds = changed_feeds(conn, batches)
    if not feeds:
        return full("no changed feed found")
    roots = [uid for uid in graph.sources if uid.rsplit(".", 1)[-1] in feeds]  # source.governance.<dept>.<feed>
    if unknown := sorted(set(feeds) - {uid.rsplit(".", 1)[-1] for uid in roots}):
        return full(f"feeds unknown to dbt: {', '.join(unknown)}")
    return _partial_plan(conn, graph, feeds, graph.descendants(roots))


def _partial_plan(conn: psycopg.Connection, graph: ProjectGraph, feeds: list[str], affected: set[str]) -> BuildPlan:
    published = published_tables(conn)
    carried, rebuilt = [], []
    for uid, mart in sorted(graph.marts.items(), key=lambda item: item[1]["table"]):
        if uid in affected:
            rebuilt.append(mart["table"])
        elif mart["materialized"] not in ("table", "incremental"):
            return full(f"{mart['table']} is materialized as {mart['materialized']}, cannot be carried over")
        elif mart["table"] not in published:
            return full(f"{mart['table']} is not published")
        else:
            carried.append(mart["table"])
    snapshots = sorted(name for uid, name in graph.snapshots.items() if uid in affected)
    return BuildPlan("partial", "only the marts downstream of the changed feeds are rebuilt", feeds, rebuilt,
                     carried, snapshots)


def carry_over(conn: psycopg.Connection, plan: BuildPlan, candidate: str) -> None:
    """Copy the unaffected marts (structure, comments, rows) from the published marts into the candidate."""
    started = time.perf_counter()
    copied = seed_candidate_from_published(conn, candidate, models=plan.carried_over)
    if sorted(copied) != sorted(plan.carried_over):
        raise RuntimeError(f"carried over {sorted(copied)}, expected {sorted(plan.carried_over)}")
    log.info("carried over %d marts in %.1fs", len(copied), time.perf_counter() - started)
