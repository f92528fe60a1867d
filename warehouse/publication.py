"""Build → gate → publish: the one code path behind `make demo`, the CLI and Airflow.

dbt builds the marts into a candidate schema (all of them, or in a partial build only
those downstream of the feeds that changed, the others copied unchanged from the
published marts: see warehouse/affected.py); dbt tests, GX suites and reconciliation
checks run on it; only if no critical check fails is the candidate swapped in as
`marts`. Either way the attempt, every check and a report are recorded in `audit`.
Builds never overlap: a session advisory lock serialises them per warehouse.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from warehouse.affected import BuildPlan, carry_over, plan_build, project_fingerprint, save_graph
from warehouse.affected import full as full_plan
from warehouse.bootstrap import bootstrap
from warehouse.build import CANDIDATE_SCHEMA, dbt_vars, key_fingerprint, run_dbt
from warehouse.checks import CheckResult, from_dbt, no_unexpected_shrink, pii_scan, reconcile
from warehouse.credentials import login_dsn
from warehouse.db import connect
from warehouse.incremental import incremental_models, seed_candidate_from_published
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
            return _build_and_publish(run_id, dsn, force or full_refresh, full_refresh)
        finally:
            lock_conn.execute("select pg_advisory_unlock(%s)", (BUILD_LOCK,))


def _build_and_publish(run_id: str, dsn: str, force: bool, full_refresh: bool) -> dict[str, Any]:
    settings = get_settings()
    with connect(dsn, autocommit=True) as conn:
        batches, published_high_water = pending_batches(conn)
        key_print = key_fingerprint(settings.pii_key)
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
        incremental = incremental_models()
        plan = _prepare_candidate(conn, plan, incremental, full_refresh)
        if plan.mode == "full":  # a partial plan may have fallen back
            conn.execute("update audit.publications set build_mode = 'full' where publication_id = %s",
                         (publication_id,))

        log.info("publication %s: %s dbt build into %s (%s)", publication_id, plan.mode, CANDIDATE_SCHEMA,
                 plan.reason)
        # Snapshots record published history, so they run only after a publication.
        built_after = time.time() - 1
        dbt = run_dbt(["build", *plan.build_selection(), "--exclude", "resource_type:snapshot",
                       *(["--full-refresh"] if full_refresh else [])], dsn)
        _keep_graph(conn, publication_id, dsn, fingerprint, built_after)
        checks = from_dbt(dbt.results)
        if not dbt.ok and not any(c.status != "pass" for c in checks):
            checks.append(CheckResult("dbt", "dbt build", None, "critical", "error", message=dbt.log_tail[-2000:]))
        candidate_exists = conn.execute("select to_regnamespace(%s) is not null", (CANDIDATE_SCHEMA,)).fetchone()[0]
        if candidate_exists:
            checks += reconcile(conn, CANDIDATE_SCHEMA)
            checks += pii_scan(conn, CANDIDATE_SCHEMA, plan.gx_marts())  # carried-over marts passed it before
            if not full_refresh:
                checks += no_unexpected_shrink(conn, CANDIDATE_SCHEMA, incremental)
            from expectations.gate import run_suites

            checks += run_suites(dsn, CANDIDATE_SCHEMA, marts=plan.gx_marts())

        # Failures first, then what was skipped because of them.
        blocking = sorted((c for c in checks if c.blocks), key=lambda c: c.status == "skipped")
        outcome = "blocked" if blocking or not candidate_exists else "published"
        if outcome == "published":
            swap_in(conn, CANDIDATE_SCHEMA)
            checks += _snapshot(dsn, plan)
        message = (f"{len(blocking)} critical check(s) failed: " + "; ".join(c.name for c in blocking[:10])
                   if blocking else "all critical checks passed")
        publication = {
            "publication_id": publication_id, "run_id": run_id, "outcome": outcome, **plan.summary(),
            "checks_total": len(checks), "checks_passed": sum(c.status == "pass" for c in checks),
            "checks_failed": sum(c.status in ("fail", "error") for c in checks),
            "source_batches": batches, "dbt_seconds": dbt.seconds, "message": message,
        }
        report = write_report(settings.reports_dir, publication, checks)
        _record(conn, publication_id, outcome, publication, checks, str(report))
        publication["report_path"] = str(report)
        publication["failed_checks"] = [c.to_dict() for c in blocking]
        return publication


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


def _prepare_candidate(conn, plan: BuildPlan, incremental: list[str], full_refresh: bool) -> BuildPlan:
    """A fresh candidate: unaffected marts copied (partial), published event facts seeded (unless full refresh)."""
    drop = sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(CANDIDATE_SCHEMA))
    conn.execute(drop)
    if plan.partial:
        try:
            carry_over(conn, plan, CANDIDATE_SCHEMA)
        except Exception:
            log.exception("carrying over unaffected marts failed: full build")
            conn.execute(drop)
            plan = full_plan("carrying over unaffected marts failed")
    if not full_refresh:
        seed_candidate_from_published(conn, CANDIDATE_SCHEMA,
                                      models=[m for m in incremental if m not in plan.carried_over])
    return plan


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
            "checks_passed = %s, checks_failed = %s, report_path = %s, message = %s where publication_id = %s",
            (outcome, publication["checks_total"], publication["checks_passed"], publication["checks_failed"],
             report, publication["message"], publication_id),
        )
