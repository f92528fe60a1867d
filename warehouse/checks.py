"""Check results from every source of the gate (dbt tests, GX suites, reconciliation)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from psycopg import sql


@dataclass
class CheckResult:
    source: str  # dbt | gx | reconciliation
    name: str
    target: str | None
    severity: str  # critical blocks publication; warning is reported only
    status: str  # pass | fail | error | skipped
    failures: int | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        return self.severity == "critical" and self.status != "pass"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_dbt(results: list[dict]) -> list[CheckResult]:
    """Every dbt node result becomes a check: a model that failed to build blocks too."""
    checks = []
    for result in results:
        unique_id = result.get("unique_id", "")
        kind = unique_id.split(".")[0]
        status = result.get("status")
        if kind == "exposure":  # exposures only document who reads a mart (status no-op): not a check
            continue
        if kind in ("test", "unit_test"):
            mapped = {"pass": "pass", "fail": "fail", "error": "error", "skipped": "skipped", "warn": "fail"}[status]
            severity = "warning" if status == "warn" else "critical"
        else:
            mapped = {"success": "pass", "error": "error", "skipped": "skipped"}.get(status, "error")
            severity = "critical"
        checks.append(CheckResult(
            source="dbt", name=unique_id, target=unique_id.split(".")[2] if unique_id.count(".") >= 2 else None,
            severity=severity, status=mapped, failures=result.get("failures"),
            message=(result.get("message") or "")[:2000] or None,
            details={"execution_time": result.get("execution_time"), "resource": kind},
        ))
    return checks


def reconciliation_pairs(manifest: dict) -> list[tuple[str, tuple[str, ...], str]]:
    """(feed, key columns, mart) from the dbt sources, which carry each feed spec's key and `reconcile` mart."""
    return sorted((source["name"], tuple(source["meta"]["key"]), source["meta"]["reconcile_mart"])
                  for source in manifest.get("sources", {}).values() if source["meta"].get("reconcile_mart"))


def reconcile(conn, candidate_schema: str, pairs: list[tuple[str, tuple[str, ...], str]]) -> list[CheckResult]:
    """Raw and marts must agree: every distinct key loaded reaches its mart, one row each."""
    checks = []
    for raw_table, raw_key, mart in pairs:
        raw_exists, mart_exists = conn.execute("select to_regclass(%s) is not null, to_regclass(%s) is not null",
                                               (f"raw.{raw_table}", f"{candidate_schema}.{mart}")).fetchone()
        if not mart_exists:
            checks.append(CheckResult("reconciliation", f"{raw_table}_keys_reach_{mart}", mart, "critical",
                                      "error", message="table missing"))
            continue
        # A feed never loaded has no raw table yet (ingestion creates it): zero keys, so an empty mart.
        key_columns = sql.SQL(", ").join(map(sql.Identifier, raw_key))
        raw_keys = conn.execute(sql.SQL("select count(*) from (select distinct {} from {}) as keys").format(
            key_columns, sql.Identifier("raw", raw_table))).fetchone()[0] if raw_exists else 0
        mart_rows = conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier(candidate_schema, mart))).fetchone()[0]
        checks.append(CheckResult(
            "reconciliation", f"{raw_table}_keys_reach_{mart}", mart, "critical",
            "pass" if raw_keys == mart_rows else "fail", failures=abs(raw_keys - mart_rows),
            message=f"raw distinct {', '.join(raw_key)}: {raw_keys}; {mart} rows: {mart_rows}",
            details={"raw_keys": raw_keys, "mart_rows": mart_rows},
        ))
    return checks


def from_freshness(sources: dict | None, log_tail: str = "") -> list[CheckResult]:
    """`dbt source freshness` output (sources.json): a stale feed is a warning in the report, never a block."""
    if sources is None:
        return [CheckResult("dbt", "dbt source freshness", None, "warning", "error", message=log_tail[-2000:] or None)]
    checks = []
    for result in sources.get("results", []):
        unique_id = result["unique_id"]
        status = result["status"]
        age = result.get("max_loaded_at_time_ago_in_s")
        warn_after = (result.get("criteria") or {}).get("warn_after") or {}
        message = (f"last batch loaded {age / 3600:.1f} h ago; stale after {warn_after.get('count')} "
                   f"{warn_after.get('period')}(s)" if age is not None else (result.get("error") or status))
        checks.append(CheckResult(
            source="dbt", name=f"freshness {unique_id}", target=unique_id.rsplit(".", 1)[-1], severity="warning",
            status={"pass": "pass", "warn": "fail", "error": "fail"}.get(status, "error"), message=message,
            details={"resource": "source_freshness", "max_loaded_at": result.get("max_loaded_at"),
                     "age_seconds": age, "criteria": result.get("criteria")},
        ))
    return checks


def no_unexpected_shrink(conn, candidate_schema: str, tables: list[str], published: str = "marts") -> list[CheckResult]:
    """Event facts only grow: a candidate with fewer rows than the published table is refused."""
    checks = []
    for table in tables:
        both = conn.execute("select to_regclass(%s) is not null and to_regclass(%s) is not null",
                            (f"{published}.{table}", f"{candidate_schema}.{table}")).fetchone()[0]
        if not both:
            continue
        before = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(published, table))).fetchone()[0]
        after = conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier(candidate_schema, table))).fetchone()[0]
        checks.append(CheckResult(
            "reconciliation", f"{table}_does_not_shrink", table, "critical", "pass" if after >= before else "fail",
            failures=max(before - after, 0), message=f"published rows: {before}; candidate rows: {after}",
            details={"published_rows": before, "candidate_rows": after},
        ))
    return checks


# --- PII gate ---------------------------------------------------------------------------

PII_PREFILTER = r"[0-9][- ]?[0-9]{4}[- ]?[0-9]{4}"  # cheap: only such texts are examined by pii.find_pii()
PII_KINDS = {"id_number": "resident ID number", "mobile_phone": "mobile phone number", "bank_card": "bank card number"}


def pii_scan(conn, candidate_schema: str, marts: set[str] | None = None) -> list[CheckResult]:
    """Critical: no text column of a candidate mart holds a clear ID number, mobile phone or bank card.

    Free text (资金用途 "联系人张三 13812345678 …") blocks the publication; the report names
    the mart, the column, the kind and the count, never the value.
    """
    columns: dict[str, list[str]] = {}
    for table, column in conn.execute(
            "select c.table_name, c.column_name from information_schema.columns c "
            "join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name "
            "where c.table_schema = %s and t.table_type = 'BASE TABLE' "
            "and c.data_type in ('text', 'character varying', 'character') order by 1, c.ordinal_position",
            (candidate_schema,)):
        if marts is None or table in marts:
            columns.setdefault(table, []).append(column)
    checks = []
    for table, names in columns.items():
        found = sql.SQL(", ").join(
            sql.SQL("array_agg(distinct pii.find_pii({col})) filter (where {col} ~ {pre} "
                    "and pii.find_pii({col}) is not null), count(*) filter (where {col} ~ {pre} "
                    "and pii.find_pii({col}) is not null)").format(col=sql.Identifier(name), pre=sql.Literal(PII_PREFILTER))
            for name in names)
        row = conn.execute(sql.SQL("select {} from {}").format(found, sql.Identifier(candidate_schema, table))).fetchone()
        hits = {name: {"kinds": row[2 * i], "rows": row[2 * i + 1]} for i, name in enumerate(names) if row[2 * i + 1]}
        message = "; ".join(f"{table}.{name}: {hit['rows']} row(s) with a clear "
                            + " / ".join(PII_KINDS[k] for k in hit["kinds"]) for name, hit in hits.items())
        checks.append(CheckResult(
            "reconciliation", f"{table}_has_no_clear_personal_information", table, "critical",
            "fail" if hits else "pass", failures=sum(h["rows"] for h in hits.values()),
            message=(message + " (mask or drop it in the model, or fix the feed)") if hits else
            f"{len(names)} text column(s) scanned for ID numbers, mobile phones and bank cards",
            details={"columns_scanned": names, "hits": hits},
        ))
    return checks
