"""Run the GX suites in `expectations/suites/` against the candidate marts.

Suites are committed as JSON (`<mart>.critical.json` blocks publication,
`<mart>.warning.json` is reported only). The GX context is ephemeral: each gate run
builds its datasource for the warehouse it checks, so concurrent runs on different
warehouses never share configuration on disk.

GX takes seconds to import: `preload()` starts that import in a thread while dbt builds
(dbt runs in a subprocess, so the import has a core to itself), and each process imports
it once. Event-fact marts of a `Delta` are validated on the rows of the new batches only
(a query asset); what that cannot see is said in warehouse/checks.py.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from warehouse.checks import BATCH_COLUMN, CheckResult, Delta
from warehouse.db import sqlalchemy_url

SUITES_DIR = Path(__file__).parent / "suites"


def suite_files() -> list[Path]:
    return sorted(SUITES_DIR.glob("*.json"))


_preload: threading.Thread | None = None
_preload_lock = threading.Lock()


def _import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: F401 (imported ahead)

    for name in ("great_expectations", "great_expectations.data_context.types.base",
                 "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.WARNING)  # GX resets its loggers on import
    return gx


def preload() -> None:
    """Import GX in a background thread (once per process); run_suites waits for it."""
    global _preload
    with _preload_lock:
        if _preload is None:
            _preload = threading.Thread(target=_quiet_import, name="gx-import", daemon=True)
            _preload.start()


def _quiet_import() -> None:
    try:
        _import_gx()
    except Exception:  # run_suites imports again and reports the error where it belongs
        logging.getLogger(__name__).exception("importing GX ahead failed")


def run_suites(dsn: str, schema: str, marts: set[str] | None = None, delta: Delta | None = None) -> list[CheckResult]:
    """Validate every suite, or only those of `marts` (a partial build leaves the others as published)."""
    if _preload is not None:
        _preload.join()
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_postgres(name="warehouse", connection_string=sqlalchemy_url(dsn))
    checks: list[CheckResult] = []
    batch_definitions: dict = {}
    for path in suite_files():
        definition = json.loads(path.read_text(encoding="utf-8"))
        mart, severity = definition["name"].rsplit(".", 1)
        if marts is not None and mart not in marts:
            continue
        try:
            # A mart can have both a critical and a warning suite: one asset and batch definition for both.
            if mart in batch_definitions:
                batch_definition = batch_definitions[mart]
            elif delta is not None and delta.covers(mart) and delta.rows_schema:  # the new rows, copied once
                asset = datasource.add_table_asset(name=mart, table_name=mart, schema_name=delta.rows_schema)
                batch_definition = batch_definitions[mart] = asset.add_batch_definition_whole_table(f"{mart}_delta")
            elif delta is not None and delta.covers(mart):
                asset = datasource.add_query_asset(name=mart, query=_delta_query(schema, mart, delta))
                batch_definition = batch_definitions[mart] = asset.add_batch_definition_whole_table(f"{mart}_delta")
            else:
                asset = datasource.add_table_asset(name=mart, table_name=mart, schema_name=schema)
                batch_definition = batch_definitions[mart] = asset.add_batch_definition_whole_table(f"{mart}_whole")
        except Exception as exc:  # the table is missing from the candidate: that fails the suite
            checks.append(CheckResult("gx", definition["name"], mart, severity, "error",
                                      message=f"table {schema}.{mart} cannot be read: {exc}"[:2000]))
            continue
        suite = context.suites.add(gx.ExpectationSuite(name=definition["name"],
                                                       expectations=definition["expectations"]))
        result = batch_definition.get_batch().validate(suite)
        for item in result.results:
            config = item.expectation_config
            observed = item.result or {}
            column = config.kwargs.get("column") or config.kwargs.get("column_list") or ""
            checks.append(CheckResult(
                source="gx", name=f"{definition['name']}:{config.type}:{column}".rstrip(":"), target=mart,
                severity=severity, status="pass" if item.success else "fail",
                failures=observed.get("unexpected_count"),
                message=None if item.success else json.dumps(_short(observed), ensure_ascii=False, default=str),
                details={"kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
                         "mode": "delta" if delta is not None and delta.covers(mart) else "full"},
            ))
    return checks


def _delta_query(schema: str, mart: str, delta: Delta) -> str:
    """The rows of `mart` from the new batches (batch ids are integers; names are quoted)."""
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'
    batches = ", ".join(str(int(b)) for b in delta.batches) or "null"
    return f"select * from {quote(schema)}.{quote(mart)} where {quote(BATCH_COLUMN)} in ({batches})"


def _short(observed: dict) -> dict:
    keep = ("observed_value", "unexpected_count", "unexpected_percent", "partial_unexpected_list")
    return {k: observed[k] for k in keep if k in observed}
