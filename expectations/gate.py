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

import psycopg

from warehouse.checks import BATCH_COLUMN, CheckResult, Delta
from warehouse.db import sqlalchemy_url

SUITES_DIR = Path(__file__).parent / "suites"


def suite_files(suites_dir: Path = SUITES_DIR) -> list[Path]:
    return sorted(suites_dir.glob("*.json"))


class SuiteError(ValueError):
    """A committed suite names an expectation GX does not know, or gives it kwargs it refuses."""


def load_expectations(path: Path) -> tuple[str, list, list[SuiteError]]:
    """The suite's name, its expectations as GX objects, and one error per expectation that does not resolve.

    `gx.ExpectationSuite(expectations=[dict…])` logs and drops an expectation whose type is
    unknown (a typo) or whose kwargs fail validation, so that check would silently vanish.
    Each entry is resolved here the way GX does it (`ExpectationConfiguration.to_domain_obj`:
    the registry by type, then the class's pydantic model, which forbids unknown kwargs).
    """
    _import_gx()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    definition = json.loads(path.read_text(encoding="utf-8"))
    name = definition.get("name", "")
    if name.rsplit(".", 1)[-1] not in ("critical", "warning") or f"{name}.json" != path.name:
        raise SuiteError(f"{path.name}: suite name {name!r} must be '<mart>.critical|warning' and match the file name")
    expectations, errors = [], []
    for index, entry in enumerate(definition.get("expectations", [])):
        kind = entry.get("type") if isinstance(entry, dict) else None
        try:
            expectations.append(ExpectationConfiguration(**entry).to_domain_obj())
        except Exception as exc:  # ExpectationNotFoundError, pydantic ValidationError, TypeError
            kwargs = json.dumps(entry.get("kwargs") if isinstance(entry, dict) else entry, ensure_ascii=False)
            errors.append(SuiteError(f"{path.name}: expectation #{index + 1} {kind!r} {kwargs} is not valid "
                                     f"({type(exc).__name__}: {' '.join(str(exc).split())}); fix its type or kwargs"))
    return name, expectations, errors


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


def run_suites(dsn: str, schema: str, marts: set[str] | None = None, delta: Delta | None = None,
               suites_dir: Path = SUITES_DIR) -> list[CheckResult]:
    """Validate every suite, or only those of `marts` (a partial build leaves the others as published).

    An expectation that does not resolve is a critical `error` check (even in a warning suite:
    a check that silently disappeared must not let a publication through).
    """
    if _preload is not None:
        _preload.join()
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_postgres(name="warehouse", connection_string=sqlalchemy_url(_no_jit(dsn)))
    checks: list[CheckResult] = []
    batch_definitions: dict = {}
    for path in suite_files(suites_dir):
        try:
            name, expectations, errors = load_expectations(path)
        except (SuiteError, ValueError) as exc:
            checks.append(CheckResult("gx", path.stem, path.stem.rsplit(".", 1)[0], "critical", "error",
                                      message=str(exc)[:2000], details={"suite_file": path.name}))
            continue
        mart, severity = name.rsplit(".", 1)
        if marts is not None and mart not in marts:
            continue
        for error in errors:
            checks.append(CheckResult("gx", f"{name}:invalid_expectation", mart, "critical", "error",
                                      message=str(error)[:2000], details={"suite_file": path.name}))
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
            checks.append(CheckResult("gx", name, mart, severity, "error",
                                      message=f"table {schema}.{mart} cannot be read: {exc}"[:2000]))
            continue
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        result = batch_definition.get_batch().validate(suite)
        for item in result.results:
            config = item.expectation_config
            observed = item.result or {}
            column = config.kwargs.get("column") or config.kwargs.get("column_list") or ""
            checks.append(CheckResult(
                source="gx", name=f"{name}:{config.type}:{column}".rstrip(":"), target=mart,
                severity=severity, status="pass" if item.success else "fail",
                failures=observed.get("unexpected_count"),
                message=None if item.success else json.dumps(_short(observed), ensure_ascii=False, default=str),
                details={"kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
                         "mode": "delta" if delta is not None and delta.covers(mart) else "full"},
            ))
    return checks


def _no_jit(dsn: str) -> str:
    """The DSN with JIT compilation off for GX's sessions: an expectation is one aggregate over a
    mart, estimated above the JIT thresholds on large marts, and compiling costs more than it
    saves (as for dbt, warehouse/build.py). The results are the same."""
    options = psycopg.conninfo.conninfo_to_dict(dsn).get("options") or ""
    return psycopg.conninfo.make_conninfo(dsn, options=f"{options} -c jit=off".strip())


def _delta_query(schema: str, mart: str, delta: Delta) -> str:
    """The rows of `mart` from the new batches (batch ids are integers; names are quoted)."""
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'
    batches = ", ".join(str(int(b)) for b in delta.batches) or "null"
    return f"select * from {quote(schema)}.{quote(mart)} where {quote(BATCH_COLUMN)} in ({batches})"


def _short(observed: dict) -> dict:
    keep = ("observed_value", "unexpected_count", "unexpected_percent", "partial_unexpected_list")
    return {k: observed[k] for k in keep if k in observed}
