"""Build → gate → publish: the one code path behind `make demo`, the CLI and Airflow.

dbt builds the marts into a candidate schema (all of them, or in a partial build only
those downstream of the feeds that changed, the others copied unchanged from the
published marts: see warehouse/affected.py); dbt tests, GX suites and reconciliation
checks run on it; only if no critical check fails is the candidate swapped in as
`marts`. Either way the attempt, every check and a report are recorded in `audit`.
Builds never overlap: a session advisory lock serialises them per warehouse.

Outcomes are truthful: `blocked` means a data check failed, nothing else. When the
machinery fails (dbt killed or out of memory, the database gone) the attempt is
recorded `failed` with the reason and `InfrastructureFailure` (or the original error)
is raised, so the orchestrator retries. A process killed outright cannot record
anything: the next attempt, once it holds the lock, marks such `running` rows `failed`.

The gate's cost follows the delta, not the history: in a partial build the event facts
are checked on the rows of the new batches only (warehouse/checks.py says why that is
sound and what covers the rest), carried-over marts are not re-checked, and source
freshness is computed in SQL instead of a second dbt invocation. Every publication
records how long each phase took (`phase_seconds`).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from warehouse.affected import BuildPlan, carry_over, plan_build, project_fingerprint, save_graph
from warehouse.affected import full as full_plan
from warehouse.auditsite import refresh_site
from warehouse.bootstrap import bootstrap
from warehouse.build import CANDIDATE_SCHEMA, dbt_vars, key_fingerprint, run_dbt, target_dir
from warehouse.checks import (
    BATCH_COLUMN,
    CheckResult,
    Delta,
    drop_delta,
    from_dbt,
    no_unexpected_shrink,
    pii_scan,
    reconcile,
    reconciliation_pairs,
    source_freshness,
    stage_delta,
)
from warehouse.credentials import login_dsn
from warehouse.db import connect
from warehouse.incremental import (
    InPlace,
    in_place_facts,
    incremental_models,
    prepare_in_place,
    seed_candidate_from_published,
)
from warehouse.lineage import record_lineage
from warehouse.publish import swap_in
from warehouse.report import write_report
from warehouse.settings import get_settings

log = logging.getLogger(__name__)
BUILD_LOCK = 7_300_402


def pending_batches(conn) -> tuple[list[int], int | None]:
    """All batches with rows, and the high-water mark of the last published build."""
    batches = [r[0] for r in conn.execute(
        "select batch_id from audit.ingestion_batches where status in ('loaded', 'partial') order by batch_id")]
    published = conn.execute(
        "select coalesce(max(b), 0) from audit.publications, unnest(source_batches) as b "
        "where outcome = 'published'").fetchone()[0]
    return batches, published


def feeds_awaiting_rebuild(dsn: str | None = None, settled_minutes: float = 5) -> list[str]:
    """Feeds with batches loaded after the last publication, unless the last attempt was blocked.

    What a periodic sweep re-announces so that a build which failed for infrastructure
    reasons (and exhausted its retries, or whose wake-up was lost) runs again by itself.
    Only once the newest such batch is `settled_minutes` old: a fresh one has its own
    build on the way. After `blocked` nothing is re-announced: the same data would be
    refused again until a new delivery or a fix.
    """
    with connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('audit.publications') is null").fetchone()[0]:
            return []
        batches, published_high_water = pending_batches(conn)
        last = conn.execute("select outcome from audit.publications order by publication_id desc limit 1").fetchone()
        if not batches or max(batches) <= published_high_water or (last and last[0] == "blocked"):
            return []
        feeds = conn.execute(
            "select feed_id, max(finished_at) < clock_timestamp() - make_interval(secs => %s) "
            "from audit.ingestion_batches where status in ('loaded', 'partial') and batch_id > %s "
            "group by feed_id order by feed_id", (settled_minutes * 60, published_high_water)).fetchall()
        return [feed for feed, _ in feeds] if all(settled for _, settled in feeds) else []


def build_and_publish(run_id: str, *, dsn: str | None = None, force: bool = False,
                      full_refresh: bool = False) -> dict[str, Any]:
    """Build every loaded batch into the candidate, gate it, publish or block.

    `full_refresh` rebuilds the incremental event facts from raw instead of starting from
    the published tables (needed after a change of their columns).
    """
    owner = dsn or get_settings().dsn
    bootstrap(owner)
    dsn = login_dsn(owner, "transform")  # never the owner or a superuser from here on
    with connect(dsn, autocommit=True) as lock_conn:
        lock_conn.execute("select pg_advisory_lock(%s)", (BUILD_LOCK,))
        try:
            _wait_for_orphaned_dbt(lock_conn)
            _fail_interrupted(lock_conn, run_id)
            return _build_and_publish(run_id, dsn, force or full_refresh, full_refresh)
        finally:
            with suppress(psycopg.Error):  # a lost connection has released the lock already
                lock_conn.execute("select pg_advisory_unlock(%s)", (BUILD_LOCK,))


class InfrastructureFailure(RuntimeError):
    """The build could not run to an outcome for reasons that are not the data's: retry it."""


DBT_APPLICATION_NAME = "dbt"  # dbt-postgres' default application_name
ORPHAN_WAIT_SECONDS = 60


def _wait_for_orphaned_dbt(conn) -> None:
    """Holding the lock: wait until no statement of an earlier, dead build still runs here.

    A build whose process was killed released the lock with its connection, while the
    server may still be running its dbt's last statement (dbt itself is gone; the server
    notices within seconds, see run_dbt). Its sessions are ended if they outlive the wait.
    """
    query = ("select pid from pg_stat_activity where datname = current_database() and application_name = %s "
             "and pid <> pg_backend_pid()")
    deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
    while pids := [r[0] for r in conn.execute(query, (DBT_APPLICATION_NAME,)).fetchall()]:
        if time.monotonic() > deadline:
            log.warning("ending %d session(s) of an earlier dbt still open after %d s", len(pids),
                        ORPHAN_WAIT_SECONDS)
            for pid in pids:
                with suppress(psycopg.Error):
                    conn.execute("select pg_terminate_backend(%s, 5000)", (pid,))
            return
        time.sleep(0.5)


def _fail_interrupted(conn, run_id: str) -> None:
    """Mark attempts still `running` as failed: with the lock held, nobody is running them."""
    rows = conn.execute(
        "update audit.publications set outcome = 'failed', finished_at = clock_timestamp(), "
        "message = format('interrupted: still running when run %%s started at %%s; the process building it '"
        "'ended without recording an outcome (killed, crashed or lost its database connection)', "
        "%s::text, clock_timestamp()) where outcome = 'running' returning publication_id", (run_id,)).fetchall()
    for (publication_id,) in rows:
        log.warning("publication %s was interrupted earlier: marked failed", publication_id)


def _mark_failed(dsn: str, publication_id: int, reason: str) -> None:
    """Record the attempt as failed on a fresh connection (the build's own may be dead)."""
    try:
        with connect(dsn, autocommit=True) as conn:
            conn.execute("update audit.publications set outcome = 'failed', finished_at = clock_timestamp(), "
                         "message = %s where publication_id = %s and outcome = 'running'",
                         (reason[:2000], publication_id))
    except psycopg.Error:
        log.warning("publication %s: could not record the failure (the next build will): %s", publication_id,
                    reason)


def _build_and_publish(run_id: str, dsn: str, force: bool, full_refresh: bool) -> dict[str, Any]:
    with connect(dsn, autocommit=True) as conn:
        batches, published_high_water = pending_batches(conn)
        key_print = key_fingerprint(get_settings().pii_key)
        if _key_changed(conn, key_print):  # every person key changes: incremental facts included
            force = full_refresh = True
        if not force and batches and max(batches) <= published_high_water:
            return {"outcome": "nothing_to_do", "run_id": run_id,
                    "message": f"batches up to {published_high_water} are already published"}
        fingerprint = current_fingerprint()
        plan = _plan(conn, dsn, fingerprint, force)
        publication_id = conn.execute(
            "insert into audit.publications (run_id, source_batches, project_fingerprint, build_mode, "
            "pii_key_fingerprint) values (%s, %s, %s, %s, %s) returning publication_id",
            (run_id, batches, fingerprint, plan.mode, key_print)).fetchone()[0]
        try:
            return _build_gate_publish(conn, run_id, dsn, publication_id, batches, fingerprint, plan,
                                       full_refresh)
        except Exception as exc:
            _mark_failed(dsn, publication_id, f"failed: {type(exc).__name__}: {exc}"
                         if not isinstance(exc, InfrastructureFailure) else str(exc))
            raise


class Phases:
    """Wall-clock seconds per phase of one publication, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 2)


def _build_gate_publish(conn, run_id: str, dsn: str, publication_id: int, batches: list[int], fingerprint: str,
                        plan: BuildPlan, full_refresh: bool) -> dict[str, Any]:
    settings = get_settings()
    phase = Phases()
    with phase("prepare_candidate"):
        record_lineage(conn, publication_id, batches)
        incremental = incremental_models()
        plan, in_place = _prepare_candidate(conn, plan, incremental, full_refresh, publication_id)
        if plan.mode == "full":  # a partial plan may have fallen back
            conn.execute("update audit.publications set build_mode = 'full' where publication_id = %s",
                         (publication_id,))

    log.info("publication %s: %s dbt build into %s (%s)", publication_id, plan.mode, CANDIDATE_SCHEMA,
             plan.reason)
    from expectations.gate import preload, run_suites

    preload()  # GX's import overlaps dbt, which runs in its own process
    # Snapshots record published history, so they run only after a publication.
    built_after = time.time() - 1
    with phase("dbt_build"):
        dbt = run_dbt(["build", *plan.build_selection(), "--exclude", "resource_type:snapshot",
                       *(["--full-refresh"] if full_refresh else [])], dsn)
    if dbt.startup_seconds is not None:
        phase.add("dbt_startup_parse", dbt.startup_seconds)  # included in dbt_build
    if dbt.infrastructure_failure:
        raise InfrastructureFailure(f"failed: {dbt.infrastructure_failure}; marts unchanged, will be retried")
    _keep_graph(conn, publication_id, dsn, fingerprint, built_after)
    manifest = _manifest(dsn)
    checks = from_dbt(dbt.results)
    if not dbt.ok and not any(c.status != "pass" for c in checks):
        checks.append(CheckResult("dbt", "dbt build", None, "critical", "error", message=dbt.log_tail[-2000:]))
    candidate_exists = conn.execute("select to_regnamespace(%s) is not null", (CANDIDATE_SCHEMA,)).fetchone()[0]
    delta = _delta(conn, plan, incremental, full_refresh, in_place) if candidate_exists else None
    rebuilt = plan.gx_marts()  # None: every mart (full build); carried-over marts passed every check before
    if candidate_exists:
        with phase("reconcile"):
            pairs = [p for p in reconciliation_pairs(manifest) if rebuilt is None or p[2] in rebuilt]
            checks += reconcile(conn, CANDIDATE_SCHEMA, pairs, delta)
            if not full_refresh:
                checks += no_unexpected_shrink(conn, CANDIDATE_SCHEMA, [
                    m for m in incremental if (rebuilt is None or m in rebuilt) and not (delta and delta.covers(m))])
        try:
            if delta is not None:
                with phase("stage_delta"):
                    delta = stage_delta(conn, CANDIDATE_SCHEMA, delta)
            with phase("pii_scan"):
                checks += pii_scan(conn, CANDIDATE_SCHEMA, rebuilt, delta, manifest)
            with phase("gx"):
                checks += run_suites(dsn, CANDIDATE_SCHEMA, marts=rebuilt, delta=delta)
        finally:
            if delta is not None and delta.rows_schema and delta.rows_schema != CANDIDATE_SCHEMA:
                with suppress(psycopg.Error):  # a leftover is dropped by the next build's stage_delta
                    drop_delta(conn, delta.rows_schema)
    with phase("freshness"):
        checks += source_freshness(conn, manifest, _loaded_feeds(conn))

    # Failures first, then what was skipped because of them.
    blocking = sorted((c for c in checks if c.blocks), key=lambda c: c.status == "skipped")
    outcome = "blocked" if blocking or not candidate_exists else "published"
    if outcome == "published":
        with phase("swap"):
            swap_in(conn, CANDIDATE_SCHEMA, publication_id=publication_id, in_place=in_place)
        with phase("snapshot"):
            checks += _snapshot(dsn, plan)
    message = (f"{len(blocking)} critical check(s) failed: " + "; ".join(c.name for c in blocking[:10])
               if blocking else "all critical checks passed")
    publication = {
        "publication_id": publication_id, "run_id": run_id, "outcome": outcome, **plan.summary(),
        "checks_total": len(checks), "checks_passed": sum(c.status == "pass" for c in checks),
        "checks_failed": sum(c.status in ("fail", "error") for c in checks),
        "source_batches": batches, "dbt_seconds": dbt.seconds, "message": message,
        "checked_batches": list(delta.batches) if delta else None,
        "delta_checked_marts": sorted(delta.marts) if delta else [],
        "applied_in_place": sorted(f.mart for f in in_place) if outcome == "published" else [],
        "phase_seconds": phase.seconds,
    }
    with phase("report"):
        report = write_report(settings.reports_dir, publication, checks)
        _record(conn, publication_id, outcome, publication, checks, str(report))
        refresh_site(dsn, publication_id)
    _record_phases(conn, publication_id, phase.seconds)
    publication["report_path"] = str(report)
    publication["failed_checks"] = [c.to_dict() for c in blocking]
    return publication


def _delta(conn, plan: BuildPlan, incremental: list[str], full_refresh: bool,
           in_place: list[InPlace] = ()) -> Delta | None:
    """The new batches and the rebuilt event facts that are checked on them; None: check every row.

    Only a partial build qualifies: it runs the project (models, suites, checks) that built
    and checked the published marts, so their old rows need no second look. A full build,
    forced or after a project change, and a full refresh check everything.
    """
    if full_refresh or not plan.partial:
        return None
    row = conn.execute("select source_batches from audit.publications where outcome = 'published' "
                       "order by publication_id desc limit 1").fetchone()
    if row is None:
        return None
    new = [r[0] for r in conn.execute(
        "select batch_id from audit.ingestion_batches where status in ('loaded', 'partial') "
        "and not (batch_id = any(%s)) order by batch_id", (row[0] or [],))]
    marts = frozenset(m for m in incremental if m in plan.rebuilt and _in_both(conn, m))
    applied = frozenset(f.mart for f in in_place) & marts
    return Delta(tuple(new), marts, in_place=applied) if new and marts else None


def _in_both(conn, mart: str) -> bool:
    """Candidate and published table exist and stamp rows with their batch: else every row is checked."""
    return conn.execute(
        "select count(*) = 2 from pg_attribute where attname = %s and not attisdropped "
        "and attrelid in (to_regclass(%s), to_regclass(%s))",
        (BATCH_COLUMN, f"{CANDIDATE_SCHEMA}.{mart}", f"marts.{mart}")).fetchone()[0]


def _record_phases(conn, publication_id: int, seconds: dict[str, float]) -> None:
    """Phase times, the report's own included, on the publication's audit row."""
    with suppress(psycopg.Error):  # the outcome is recorded already; timings are not worth failing it
        conn.execute("update audit.publications set phase_seconds = %s where publication_id = %s",
                     (Jsonb(seconds), publication_id))


def _manifest(dsn: str) -> dict:
    path = target_dir(dsn) / "target" / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _loaded_feeds(conn) -> list[str]:
    """Feeds loaded so far: only they are checked for freshness (a feed never loaded has no raw table)."""
    return [row[0] for row in conn.execute(
        "select distinct feed_id from audit.ingestion_batches where status in ('loaded', 'partial') order by 1")]


def _key_changed(conn, key_print: str) -> bool:
    """The last publication was built with another PII key: its person keys must all be recomputed."""
    row = conn.execute("select pii_key_fingerprint from audit.publications where outcome = 'published' "
                       "order by publication_id desc limit 1").fetchone()
    if row is not None and row[0] is not None and row[0] != key_print:
        log.warning("the PII key changed since the last publication: full rebuild of every person key")
        return True
    return False


def current_fingerprint() -> str:
    """The fingerprint of the project as dbt will run it now."""
    return project_fingerprint(dbt_vars(CANDIDATE_SCHEMA), get_settings().pii_key)


def _plan(conn, dsn: str, fingerprint: str, force: bool) -> BuildPlan:
    """Full or partial; an error while deciding is a full build, never a failed one."""
    try:
        return plan_build(conn, dsn, fingerprint, force=force)
    except Exception:
        log.exception("planning a partial build failed: full build")
        return full_plan("planning a partial build failed")


def _prepare_candidate(conn, plan: BuildPlan, incremental: list[str], full_refresh: bool,
                       publication_id: int) -> tuple[BuildPlan, list[InPlace]]:
    """A fresh candidate: unaffected marts copied (partial), published event facts seeded (unless full refresh).

    In a partial build the rebuilt facts that qualify (warehouse/incremental.py) are not
    seeded: the candidate gets their empty delta tables, applied in place by the swap.
    """
    drop = sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(CANDIDATE_SCHEMA))
    conn.execute(drop)
    if plan.partial:
        try:
            carry_over(conn, plan, CANDIDATE_SCHEMA)
        except Exception:
            log.exception("carrying over unaffected marts failed: full build")
            conn.execute(drop)
            plan = full_plan("carrying over unaffected marts failed")
    in_place: list[InPlace] = []
    if plan.partial and not full_refresh:
        in_place = in_place_facts(conn, [m for m in incremental if m in plan.rebuilt])
        prepare_in_place(conn, CANDIDATE_SCHEMA, publication_id, in_place)
    if not full_refresh:
        seed_candidate_from_published(conn, CANDIDATE_SCHEMA, models=[
            m for m in incremental if m not in plan.carried_over and m not in {f.mart for f in in_place}])
    return plan, in_place


def _keep_graph(conn, publication_id: int, dsn: str, fingerprint: str, built_after: float) -> None:
    """Save the dependency graph of this build; a project edited during the build gets no fingerprint."""
    if current_fingerprint() == fingerprint and save_graph(dsn, fingerprint, CANDIDATE_SCHEMA, built_after):
        return
    log.warning("publication %s: project changed during the build or no manifest: no fingerprint recorded",
                publication_id)
    conn.execute("update audit.publications set project_fingerprint = null where publication_id = %s",
                 (publication_id,))


def _snapshot(dsn: str, plan: BuildPlan) -> list[CheckResult]:
    """`dbt snapshot` of the published dimensions, only those whose sources changed in a partial build."""
    selection = plan.snapshot_selection()
    if selection is None:
        return []
    snapshot = run_dbt(["snapshot", *selection], dsn)
    return [CheckResult("dbt", "dbt snapshot (history of published dimensions)", "snapshots", "warning",
                        "pass" if snapshot.ok else "error", message=None if snapshot.ok else snapshot.log_tail[-2000:])]


def _record(conn, publication_id: int, outcome: str, publication: dict, checks: list[CheckResult],
            report: str) -> None:
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.check_results (publication_id, check_source, check_name, target, severity, "
                "status, failures, message, details) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(publication_id, c.source, c.name, c.target, c.severity, c.status, c.failures, c.message,
                  Jsonb(c.details)) for c in checks],
            )
        conn.execute(
            "update audit.publications set finished_at = clock_timestamp(), outcome = %s, checks_total = %s, "
            "checks_passed = %s, checks_failed = %s, report_path = %s, message = %s, phase_seconds = %s "
            "where publication_id = %s",
            (outcome, publication["checks_total"], publication["checks_passed"], publication["checks_failed"],
             report, publication["message"], Jsonb(publication["phase_seconds"]), publication_id),
        )
