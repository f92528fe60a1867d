"""Check results from every source of the gate (dbt tests, GX suites, reconciliation).

Checks on the event facts can look at the *delta* only (`Delta`): the rows of the batches
a partial build adds on top of the published marts. That is sound because every other row
of those tables is the published row, unchanged, which passed the same checks (a partial
build requires the project fingerprint of the last publication, see warehouse/affected.py).
What a delta-only check cannot see, and what covers it instead:

* an old row changed or deleted without a new batch id (dbt's merge only inserts and
  updates rows it stamps with the new batch): the row-count identity below
  (candidate = published + keys never published before) catches a deleted or added row;
* properties across old and new rows together (a key unique over the whole table):
  the mart's primary key constraint and dbt's unique test, which run on the whole table;
* a batch loaded before the last publication but not in it (still loading then): the
  delta is "batches the published marts do not hold", never "ids above a high-water mark".
"""
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


@dataclass(frozen=True)
class Delta:
    """The batches a build adds to the published marts, and the event-fact marts checked on those rows only.

    `rows_schema`, once stage_delta() ran: where those rows were copied, one table per mart,
    so that the PII scan and each GX expectation read the delta, not a scan of all history.
    `in_place`: marts whose candidate table holds the delta rows only (applied in place by the
    swap, warehouse/incremental.py): nothing to copy, the candidate is their rows_schema.
    """

    batches: tuple[int, ...]
    marts: frozenset[str]
    rows_schema: str | None = None
    in_place: frozenset[str] = frozenset()

    def covers(self, mart: str) -> bool:
        return mart in self.marts


BATCH_COLUMN = "source_batch_id"  # each event-fact row names the batch it came from
DELTA_SCHEMA = "marts_candidate_delta"  # the transform login's scratch schema, dropped after the gate


def stage_delta(conn, candidate_schema: str, delta: Delta, schema: str = DELTA_SCHEMA) -> Delta:
    """Copy the new batches' rows of each delta mart into `schema` (one scan per mart, in one transaction).

    When every delta mart is applied in place, its candidate table is the delta already: no copy.
    """
    if delta.marts <= delta.in_place:
        return Delta(delta.batches, delta.marts, candidate_schema, delta.in_place)
    with conn.transaction():
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        for mart in sorted(delta.marts):
            conn.execute(sql.SQL("create table {} as select * from {} where {} = any(%s)").format(
                sql.Identifier(schema, mart), sql.Identifier(candidate_schema, mart), sql.Identifier(BATCH_COLUMN)),
                (list(delta.batches),))
    return Delta(delta.batches, delta.marts, schema, delta.in_place)


def drop_delta(conn, schema: str = DELTA_SCHEMA) -> None:
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def reconcile(conn, candidate_schema: str, pairs: list[tuple[str, tuple[str, ...], str]],
              delta: Delta | None = None, published: str = "marts") -> list[CheckResult]:
    """Raw and marts must agree: every distinct key loaded reaches its mart, one row each.

    Marts of `delta` are reconciled on the new batches only (reconcile_delta).
    """
    checks = []
    for raw_table, raw_key, mart in pairs:
        if delta is not None and delta.covers(mart):
            checks += reconcile_delta(conn, candidate_schema, raw_table, raw_key, mart, delta.batches, published,
                                      in_place=mart in delta.in_place)
            continue
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


def reconcile_delta(conn, candidate_schema: str, raw_table: str, raw_key: tuple[str, ...], mart: str,
                    batches: tuple[int, ...], published: str = "marts", in_place: bool = False) -> list[CheckResult]:
    """The full reconciliation's verdict from the new batches' keys, without a distinct over all of raw.

    The published mart held one row per distinct raw key (checked when it was published).
    So the candidate does too iff (1) each distinct key of the new batches has exactly one
    candidate row stamped with a new batch, and (2) candidate rows = published rows + new
    keys the published mart lacks. (2) also proves the table did not shrink. Cost: an
    index range on raw (its primary key starts with _batch_id), an index probe per new key
    into the published mart, and two row counts.

    `in_place`: the candidate table is the delta the swap applies to the published table
    (delete the rows of its keys, insert its rows), so (2) holds by construction; what is
    checked is (1) and that every candidate row is from a new batch (no count of history).
    """
    if in_place:
        return _reconcile_in_place(conn, candidate_schema, raw_table, raw_key, mart, batches, published)
    name = f"{raw_table}_keys_reach_{mart}"
    exists = conn.execute("select to_regclass(%s) is not null, to_regclass(%s) is not null, "
                          "to_regclass(%s) is not null", (f"raw.{raw_table}", f"{candidate_schema}.{mart}",
                                                           f"{published}.{mart}")).fetchone()
    if not exists[1]:
        return [CheckResult("reconciliation", name, mart, "critical", "error", message="table missing")]
    if not (exists[0] and exists[2]):  # nothing published or loaded to build on: the full check is cheap
        return reconcile(conn, candidate_schema, [(raw_table, raw_key, mart)])
    keys = sql.SQL(", ").join(map(sql.Identifier, raw_key))
    match = sql.SQL(" and ").join(sql.SQL("p.{k} = n.{k}").format(k=sql.Identifier(k)) for k in raw_key)
    new_keys, unseen, delta_rows, candidate_rows, published_rows = conn.execute(sql.SQL(
        "with n as (select distinct {keys} from {raw} where _batch_id = any(%(b)s)) "
        "select (select count(*) from n), "
        "(select count(*) from n where not exists (select 1 from {pub} as p where {match})), "
        "c.delta_rows, c.candidate_rows, (select count(*) from {pub}) "
        "from (select count(*) filter (where {batch} = any(%(b)s)) as delta_rows, count(*) as candidate_rows "
        "from {cand}) as c").format(
            keys=keys, raw=sql.Identifier("raw", raw_table), pub=sql.Identifier(published, mart), match=match,
            cand=sql.Identifier(candidate_schema, mart), batch=sql.Identifier(BATCH_COLUMN)),
        {"b": list(batches)}).fetchone()
    expected = published_rows + unseen
    ok = delta_rows == new_keys and candidate_rows == expected
    details = {"mode": "delta", "batches": list(batches), "new_keys": new_keys, "new_keys_unpublished": unseen,
               "delta_rows": delta_rows, "candidate_rows": candidate_rows, "published_rows": published_rows}
    return [
        CheckResult("reconciliation", name, mart, "critical", "pass" if ok else "fail",
                    failures=abs(new_keys - delta_rows) + abs(candidate_rows - expected),
                    message=(f"new batches {_batch_list(batches)}: distinct {', '.join(raw_key)}: {new_keys}, "
                             f"{mart} rows of them: {delta_rows}; {mart} rows: {candidate_rows} = published "
                             f"{published_rows} + {unseen} new key(s) expected {expected}"),
                    details=details),
        CheckResult("reconciliation", f"{mart}_does_not_shrink", mart, "critical",
                    "pass" if candidate_rows >= published_rows else "fail",
                    failures=max(published_rows - candidate_rows, 0),
                    message=f"published rows: {published_rows}; candidate rows: {candidate_rows}",
                    details={"published_rows": published_rows, "candidate_rows": candidate_rows, "mode": "delta"}),
    ]


def _reconcile_in_place(conn, candidate_schema: str, raw_table: str, raw_key: tuple[str, ...], mart: str,
                        batches: tuple[int, ...], published: str) -> list[CheckResult]:
    name = f"{raw_table}_keys_reach_{mart}"
    if not conn.execute("select to_regclass(%s) is not null", (f"raw.{raw_table}",)).fetchone()[0]:
        return [CheckResult("reconciliation", name, mart, "critical", "error", message=f"raw.{raw_table} missing")]
    keys = sql.SQL(", ").join(map(sql.Identifier, raw_key))
    match = sql.SQL(" and ").join(sql.SQL("p.{k} = n.{k}").format(k=sql.Identifier(k)) for k in raw_key)
    # One key column: index probes per new key (a join may be planned as a scan of all published rows).
    unseen_sql = sql.SQL(
        "(select count(*) from n) - (select count(distinct p.{k}) from {pub} as p where p.{k} = any(array(select n.{k} from n)))"
    ).format(pub=sql.Identifier(published, mart), k=sql.Identifier(raw_key[0])) if len(raw_key) == 1 else sql.SQL(
        "(select count(*) from n where not exists (select 1 from {pub} as p where {match}))").format(
            pub=sql.Identifier(published, mart), match=match)
    new_keys, unseen, delta_rows, candidate_rows, matched = conn.execute(sql.SQL(
        "with n as (select distinct {keys} from {raw} where _batch_id = any(%(b)s)) "
        "select (select count(*) from n), {unseen}, "
        "c.delta_rows, c.candidate_rows, (select count(*) from {cand} as p join n on {match}) "
        "from (select count(*) filter (where {batch} = any(%(b)s)) as delta_rows, count(*) as candidate_rows "
        "from {cand}) as c").format(
            keys=keys, raw=sql.Identifier("raw", raw_table), unseen=unseen_sql, match=match,
            cand=sql.Identifier(candidate_schema, mart), batch=sql.Identifier(BATCH_COLUMN)),
        {"b": list(batches)}).fetchone()
    # The delta's keys are exactly the new batches' keys, one row each, all stamped with a new batch.
    ok = delta_rows == new_keys and candidate_rows == delta_rows and matched == new_keys
    details = {"mode": "in_place", "batches": list(batches), "new_keys": new_keys, "new_keys_unpublished": unseen,
               "delta_rows": delta_rows, "candidate_rows": candidate_rows, "rows_of_new_keys": matched}
    return [
        CheckResult("reconciliation", name, mart, "critical", "pass" if ok else "fail",
                    failures=abs(new_keys - delta_rows) + abs(candidate_rows - delta_rows) + abs(new_keys - matched),
                    message=(f"new batches {_batch_list(batches)}: distinct {', '.join(raw_key)}: {new_keys}, "
                             f"{mart} delta rows of them: {delta_rows} of {candidate_rows}; applied in place: "
                             f"{unseen} new key(s), {new_keys - unseen} replaced"),
                    details=details),
        CheckResult("reconciliation", f"{mart}_does_not_shrink", mart, "critical",
                    "pass" if candidate_rows == delta_rows else "fail",
                    failures=candidate_rows - delta_rows,
                    message=(f"applied in place: published rows are only replaced by key ({new_keys - unseen}) "
                             f"or added ({unseen}); no other row is touched"),
                    details={"mode": "in_place", "added_rows": unseen, "replaced_rows": new_keys - unseen}),
    ]


def _batch_list(batches: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, batches[:10]))
    return f"{shown}, … ({len(batches)} batches)" if len(batches) > 10 else shown


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


PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def freshness_sources(manifest: dict) -> dict[str, dict]:
    """feed -> its dbt source (unique_id, loaded_at_field, freshness criteria) from the manifest dbt wrote."""
    found = {}
    for unique_id, source in manifest.get("sources", {}).items():
        config = source.get("config") or {}
        criteria = source.get("freshness") or config.get("freshness")
        field_name = source.get("loaded_at_field") or config.get("loaded_at_field")
        if criteria and field_name and (criteria.get("warn_after") or {}).get("count"):
            found[source["name"]] = {"unique_id": unique_id, "loaded_at_field": field_name, "criteria": criteria}
    return found


def source_freshness(conn, manifest: dict, feeds: list[str]) -> list[CheckResult]:
    """What `dbt source freshness` reports, computed here in SQL (no second dbt start-up and parse).

    Same check names, severity (warning) and statuses; the criteria are the generated
    sources' (the specs' stale_after_days), read from the manifest the build just wrote.
    Only the newest batch of each feed with rows loaded is read (audit's record of it, then
    its pages through raw's BRIN index on _batch_id): batches are numbered in load order,
    so its load time is the feed's latest.
    """
    if not manifest:
        return from_freshness(None, "no dbt manifest to read the freshness criteria from (dbt did not parse)")
    sources = freshness_sources(manifest)
    results = []
    for feed in feeds:
        source = sources.get(feed)
        if source is None:
            continue
        table = sql.Identifier("raw", feed)
        max_loaded_at, age = conn.execute(sql.SQL(
            "select max({col}), extract(epoch from clock_timestamp() - max({col}))::float8 from {table} "
            "where _batch_id = (select max(batch_id) from audit.ingestion_batches "
            "where feed_id = %s and rows_loaded > 0 and status in ('loaded', 'partial'))").format(
                col=sql.Identifier(source["loaded_at_field"]), table=table), (feed,)).fetchone() \
            if conn.execute("select to_regclass(%s) is not null", (f"raw.{feed}",)).fetchone()[0] else (None, None)
        results.append({"unique_id": source["unique_id"], "criteria": source["criteria"],
                        "status": _freshness_status(age, source["criteria"]),
                        "max_loaded_at": max_loaded_at.isoformat() if max_loaded_at else None,
                        "max_loaded_at_time_ago_in_s": age,
                        "error": None if age is not None else f"raw.{feed} holds no rows"})
    return from_freshness({"results": results})


def _freshness_status(age: float | None, criteria: dict) -> str:
    """dbt's rule: error past error_after, warn past warn_after, else pass."""
    if age is None:
        return "error"
    for status in ("error", "warn"):
        limit = criteria.get(f"{status}_after") or {}
        if limit.get("count") and age > limit["count"] * PERIOD_SECONDS[limit["period"]]:
            return status
    return "pass"


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

# Only texts matching both are examined by pii.find_pii() (plpgsql, slow). The first is cheap and
# rejects most text; the second is the union of find_pii's standalone patterns (an 18-character
# ID number, a mobile phone, a 16-19 digit card), so the 12-digit division codes every mart
# carries are not examined (they were 150 s of a 283 s full publication at scale 100).
PII_PREFILTER = r"[0-9][- ]?[0-9]{4}[- ]?[0-9]{4}"
PII_CANDIDATE = (r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}|[0-9]{16,19})"
                 r"(?![0-9A-Za-z])")
PII_KINDS = {"id_number": "resident ID number", "mobile_phone": "mobile phone number", "bank_card": "bank card number"}


def organisation_code_columns(manifest: dict | None) -> set[tuple[str, str]]:
    """(mart, column) that hold 统一社会信用代码 by contract: dbt column meta `code_type: uscc`."""
    found = set()
    for node in (manifest or {}).get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        for column in node.get("columns", {}).values():
            meta = {**(column.get("meta") or {}), **((column.get("config") or {}).get("meta") or {})}
            if meta.get("code_type") == "uscc":
                found.add((node.get("alias") or node["name"], column["name"]))
    return found


def pii_scan(conn, candidate_schema: str, marts: set[str] | None = None,
             delta: Delta | None = None, manifest: dict | None = None) -> list[CheckResult]:
    """Critical: no text column of a candidate mart holds a clear ID number, mobile phone or bank card.

    Free text (资金用途 "联系人张三 13812345678 …") blocks the publication; the report names
    the mart, the column, the kind and the count, never the value. Marts of `delta` are
    scanned on the rows of the new batches only (the others passed this scan when published).
    Columns that hold organisation codes by contract (`manifest`: the dbt build's, see
    organisation_code_columns) do not read an 18-character code as a bank card.
    """
    org_codes = organisation_code_columns(manifest)
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
        kinds = sql.SQL(", ").join(  # find_pii once per value, and only on a candidate
            sql.SQL("case when {col} ~ {pre} and {col} ~ {candidate} then pii.find_pii({col}, {org}) end").format(
                col=sql.Identifier(name), pre=sql.Literal(PII_PREFILTER), candidate=sql.Literal(PII_CANDIDATE),
                org=sql.Literal((table, name) in org_codes))
            for name in names)
        found = sql.SQL(", ").join(
            sql.SQL("array_agg(distinct {k}) filter (where {k} is not null), count({k})").format(
                k=sql.Identifier(f"k{i}")) for i in range(len(names)))
        aliases = sql.SQL(", ").join(sql.Identifier(f"k{i}") for i in range(len(names)))
        source, where, params = sql.Identifier(candidate_schema, table), sql.SQL(""), None
        if delta is not None and delta.covers(table) and delta.rows_schema:
            source = sql.Identifier(delta.rows_schema, table)
        elif delta is not None and delta.covers(table):
            where, params = sql.SQL(" where {} = any(%s)").format(sql.Identifier(BATCH_COLUMN)), (list(delta.batches),)
        row = conn.execute(sql.SQL("select {} from (select {} from {}{}) as scanned ({})").format(
            found, kinds, source, where, aliases), params).fetchone()
        hits = {name: {"kinds": row[2 * i], "rows": row[2 * i + 1]} for i, name in enumerate(names) if row[2 * i + 1]}
        message = "; ".join(f"{table}.{name}: {hit['rows']} row(s) with a clear "
                            + " / ".join(PII_KINDS[k] for k in hit["kinds"]) for name, hit in hits.items())
        checks.append(CheckResult(
            "reconciliation", f"{table}_has_no_clear_personal_information", table, "critical",
            "fail" if hits else "pass", failures=sum(h["rows"] for h in hits.values()),
            message=(message + " (mask or drop it in the model, or fix the feed)") if hits else
            f"{len(names)} text column(s) scanned for ID numbers, mobile phones and bank cards",
            details={"columns_scanned": names, "hits": hits,
                     "organisation_code_columns": sorted(n for n in names if (table, n) in org_codes),
                     "mode": "delta" if delta is not None and delta.covers(table) else "full"},
        ))
    return checks
