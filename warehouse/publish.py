"""Atomic publication of the candidate marts by schema swap (write-audit-publish).

Two renames in one short transaction: a reader sees the old marts or the new ones,
never a mix, never an empty table. Readers must use READ COMMITTED (the default).
The version it replaces is kept as `marts_previous` (readable by auditors, not by BI)
so that `rollback()` can swap it back the same way; the one before that is dropped
first, in its own transaction, because dropping waits for its readers while the swap
itself does not. `audit.marts_versions` records, in the swap's transaction, which
publication's marts each schema holds.

Facts applied in place (a partial build, warehouse/incremental.py) are not swapped: in the
same transaction the swap deletes the published rows whose key the candidate's delta table
holds (moving them to `<fact>__undo`), inserts the delta rows, and moves the published table
object into the schema that becomes `marts` (its oid, grants, policies, partitions and indexes
stay). The schema that becomes `marts_previous` keeps `<fact>__undo`, `<fact>__delta` (the
rows inserted) and a view `<fact>`: the previous version, for auditors and for rollback
(`undo_in_place`), which applies them back the same way. Cost ~ delta, not ~ history. The
swap waits for queries already reading the marts: it locks them all first, for at most LOCK_WAIT
at a time, stepping back between attempts so that readers never deadlock with it.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from warehouse.row_security import apply_row_security

# Where the monthly partitions of the facts live (warehouse/sql/80_marts_partitions.sql): never renamed.
PARTITION_SCHEMA = "marts_partitions"
READER_ROLES = ("bi_reader", "auditor")
# Row-level facts about residents: from these, small counts that aggregates suppress could be
# recounted (and person keys linked). bi_reader reads the aggregates and dimensions only; the
# auditor reads everything. Any mart with a person key column is person-level as well.
PERSON_LEVEL_MARTS = ("fct_mediation_case_parties", "fct_mediation_cases", "fct_service_transactions")


# Locking the published marts (in place only) waits at most LOCK_WAIT, shorter than PostgreSQL's
# deadlock_timeout (1 s): a reader that holds one mart and asks for another the swap holds waits
# for the swap, which steps back (its locks released) and tries again, instead of one of the
# two being cancelled as a deadlock (a BI query failing during a publication). ~1 min in all.
LOCK_WAIT = "500ms"
LOCK_ATTEMPTS = 60


@dataclass(frozen=True)
class InPlace:
    """A fact applied in place (warehouse/incremental.py): unique key column, month column if partitioned."""

    mart: str
    key: str
    month: str | None = None


def swap_in(conn: psycopg.Connection, candidate: str, published: str = "marts",
            publication_id: int | None = None, in_place: list[InPlace] | tuple[InPlace, ...] = ()) -> None:
    previous = f"{published}_previous"
    with conn.transaction():
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
    if in_place:  # empty partitions for the delta's new months: no reader sees a row change
        with conn.transaction():
            conn.execute("set local lock_timeout = '10s'")
            for fact in in_place:
                _create_month_partitions(conn, candidate, published, fact)
    else:
        apply_row_security(conn, candidate)  # county policies on the candidate tables before anyone can read them
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            _swap(conn, candidate, published, previous, publication_id, in_place)
            return
        except psycopg.errors.LockNotAvailable:
            if not in_place or attempt == LOCK_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.5, 1.5) * min(0.1 * attempt, 1.0))


def _swap(conn: psycopg.Connection, candidate: str, published: str, previous: str, publication_id: int | None,
          in_place: list[InPlace] | tuple[InPlace, ...]) -> None:
    with conn.transaction():
        conn.execute("set local lock_timeout = '10s'")
        replaced = published_version(conn, published)
        if in_place:
            conn.execute(f"set local lock_timeout = '{LOCK_WAIT}'")
            _lock_published(conn, published)
            conn.execute("set local lock_timeout = '10s'")
        applied = {fact.mart: _apply_in_place(conn, candidate, published, fact) for fact in in_place}
        if in_place:  # policies (also those reading a moved fact) refer to the tables that become `marts`
            apply_row_security(conn, candidate)
        if conn.execute("select to_regnamespace(%s) is not null", (published,)).fetchone()[0]:
            conn.execute(sql.SQL("alter schema {} rename to {}").format(
                sql.Identifier(published), sql.Identifier(previous)))
        conn.execute(sql.SQL("alter schema {} rename to {}").format(
            sql.Identifier(candidate), sql.Identifier(published)))
        grant_readers(conn, published)
        _record_versions(conn, published, publication_id, previous, replaced)
        for mart, (delta_rows, replaced_rows) in applied.items():
            conn.execute("update audit.publication_in_place set applied_at = clock_timestamp(), delta_rows = %s, "
                         "replaced_rows = %s where publication_id = %s and mart = %s",
                         (delta_rows, replaced_rows, publication_id, mart))


def _lock_published(conn: psycopg.Connection, published: str) -> None:
    """Every published mart locked first: a query naming several marts waits for the swap at the first one
    it resolves and then resolves all of them anew (after the commit), so it never joins an old mart to a
    fact already changed in place. Queries already running finish first (lock_timeout)."""
    relations = [sql.Identifier(published, r[0]) for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s "
        "and c.relkind in ('r', 'p', 'v', 'm') order by 1", (published,))]
    if relations:
        conn.execute(sql.SQL("lock table only {} in access exclusive mode").format(sql.SQL(", ").join(relations)))


def _columns(conn: psycopg.Connection, relation: str) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(r[0]) for r in conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped "
        "order by attnum", (relation,)))


def _create_month_partitions(conn: psycopg.Connection, candidate: str, published: str, fact: InPlace) -> None:
    """The partitions of the delta's months the published (partitioned) fact lacks, as dbt's merge would."""
    target = f"{published}.{fact.mart}"
    row = conn.execute("select relkind, oid from pg_class where oid = to_regclass(%s)", (target,)).fetchone()
    if fact.month is None or row is None or row[0] != "p":
        return
    for (month,) in conn.execute(sql.SQL(
            "select distinct date_trunc('month', {m})::date from {d} where {m} is not null order by 1").format(
                m=sql.Identifier(fact.month), d=sql.Identifier(candidate, fact.mart))).fetchall():
        conn.execute(sql.SQL("create table if not exists {} partition of {} for values from ({}) to ({})").format(
            sql.Identifier(PARTITION_SCHEMA, f"{fact.mart}_{month:%Y%m}_{row[1]}"),
            sql.Identifier(published, fact.mart), sql.Literal(month),
            sql.Literal(month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1))))


def _apply_in_place(conn: psycopg.Connection, candidate: str, published: str, fact: InPlace) -> tuple[int, int]:
    """In the swap's transaction: the delta applied to the published fact; returns (inserted, replaced) rows.

    Before the schema renames: `published` becomes marts_previous, `candidate` becomes marts.
    """
    mart, key = fact.mart, sql.Identifier(fact.key)
    live, delta = sql.Identifier(published, mart), sql.Identifier(candidate, mart)
    undo = sql.Identifier(published, f"{mart}__undo")
    columns = _columns(conn, f"{published}.{mart}")
    conn.execute(sql.SQL("create table {} (like {} including defaults)").format(undo, live))
    # `= any(array(…))`: an index probe per delta key in each partition; a join would be planned as a
    # hash join over every published row, i.e. a cost growing with history.
    replaced = conn.execute(sql.SQL(
        "with moved as (delete from {live} as p where p.{key} = any(array(select d.{key} from {delta} as d)) "
        "returning p.*) insert into {undo} select * from moved").format(
            live=live, delta=delta, key=key, undo=undo)).rowcount
    inserted = conn.execute(sql.SQL("insert into {} ({c}) select {c} from {}").format(
        live, delta, c=columns)).rowcount
    conn.execute(sql.SQL("alter table {} rename to {}").format(delta, sql.Identifier(f"{mart}__delta")))
    conn.execute(sql.SQL("alter table {} set schema {}").format(
        sql.Identifier(candidate, f"{mart}__delta"), sql.Identifier(published)))
    conn.execute(sql.SQL("alter table {} set schema {}").format(live, sql.Identifier(candidate)))
    _previous_version_view(conn, published, candidate, mart, fact.key)
    return inserted, replaced


def _previous_version_view(conn: psycopg.Connection, kept: str, current: str, mart: str, key: str) -> None:
    """`kept`.`mart`: the fact as the previous version held it (current rows minus __delta's keys, plus __undo)."""
    conn.execute(sql.SQL(
        "create view {view} with (security_invoker = true) as select current_rows.* from {current} as current_rows "
        "where not exists (select from {delta} as d where d.{key} = current_rows.{key}) "
        "union all select * from {undo}").format(
            view=sql.Identifier(kept, mart), current=sql.Identifier(current, mart),
            delta=sql.Identifier(kept, f"{mart}__delta"), undo=sql.Identifier(kept, f"{mart}__undo"),
            key=sql.Identifier(key)))
    conn.execute(sql.SQL("comment on view {} is {}").format(sql.Identifier(kept, mart), sql.Literal(
        f"Previous version of {mart} (applied in place): marts.{mart} without the keys of {mart}__delta, "
        f"plus {mart}__undo / 上一版本（原地发布）")))
    for relation in (mart, f"{mart}__delta", f"{mart}__undo"):
        conn.execute(sql.SQL("grant select on {} to auditor").format(sql.Identifier(kept, relation)))


def in_place_kept(conn: psycopg.Connection, published: str = "marts") -> list[str]:
    """Facts whose previous version `marts_previous` keeps as undo/delta tables and a view."""
    previous = f"{published}_previous"
    return [r[0] for r in conn.execute(
        "select v.relname from pg_class v join pg_namespace n on n.oid = v.relnamespace where n.nspname = %s "
        "and v.relkind = 'v' and to_regclass(format('%%I.%%I', n.nspname, v.relname || '__undo')) is not null "
        "and to_regclass(format('%%I.%%I', n.nspname, v.relname || '__delta')) is not null "
        "and to_regclass(format('%%I.%%I', %s::text, v.relname)) is not null order by 1", (previous, published))]


def undo_in_place(conn: psycopg.Connection, published: str = "marts") -> list[str]:
    """Rollback, in its transaction and before the schema renames: every fact applied in place gets its
    previous rows back (rows of __delta's keys deleted, __undo's rows inserted); __delta and __undo swap
    roles and move, with the view, to the schema that becomes marts_previous, so a second rollback
    undoes the first. Returns the facts undone."""
    previous = f"{published}_previous"
    undone = []
    for mart in in_place_kept(conn, published):
        row = conn.execute("select key_column from audit.publication_in_place where mart = %s "
                           "order by publication_id desc limit 1", (mart,)).fetchone()
        if row is None:
            raise RuntimeError(f"{previous}.{mart} is kept in place but audit.publication_in_place names no key")
        key = sql.Identifier(row[0])
        live = sql.Identifier(published, mart)
        delta, undo = sql.Identifier(previous, f"{mart}__delta"), sql.Identifier(previous, f"{mart}__undo")
        conn.execute(sql.SQL("drop view {}").format(sql.Identifier(previous, mart)))
        expected = conn.execute(sql.SQL("select count(*) from {}").format(delta)).fetchone()[0]
        removed = conn.execute(sql.SQL("delete from {} as p where p.{k} = any(array(select d.{k} from {} as d))").format(
            live, delta, k=key)).rowcount
        if removed != expected:
            raise RuntimeError(f"rollback of {published}.{mart}: {removed} row(s) of the applied delta found, "
                               f"{expected} expected: the fact changed since; nothing rolled back")
        columns = _columns(conn, f"{published}.{mart}")
        conn.execute(sql.SQL("insert into {} ({c}) select {c} from {}").format(live, undo, c=columns))
        for source, target in ((f"{mart}__delta", f"{mart}__swap"), (f"{mart}__undo", f"{mart}__delta"),
                               (f"{mart}__swap", f"{mart}__undo")):
            conn.execute(sql.SQL("alter table {} rename to {}").format(
                sql.Identifier(previous, source), sql.Identifier(target)))
        for table in (f"{mart}__delta", f"{mart}__undo"):
            conn.execute(sql.SQL("alter table {} set schema {}").format(
                sql.Identifier(previous, table), sql.Identifier(published)))
        conn.execute(sql.SQL("alter table {} set schema {}").format(live, sql.Identifier(previous)))
        _previous_version_view(conn, published, previous, mart, row[0])
        undone.append(mart)
    return undone


def rollback_swap(conn: psycopg.Connection, published: str = "marts") -> tuple[int | None, int | None]:
    """Swap `marts_previous` back in as `marts` (and the current one out as `marts_previous`).

    Call it inside the transaction that records the rollback. Returns the publications
    whose marts are now (published, previous).
    """
    previous = f"{published}_previous"
    parked = f"{published}_rolling_back"
    restored, replaced = published_version(conn, previous), published_version(conn, published)
    conn.execute("set local lock_timeout = '10s'")
    undone = undo_in_place(conn, published)
    for source, target in ((published, parked), (previous, published), (parked, previous)):
        conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(source), sql.Identifier(target)))
    if undone:  # policies of the restored marts that read a moved fact, or the divisions, point at `marts`
        apply_row_security(conn, published)
    grant_readers(conn, published)
    _record_versions(conn, published, restored, previous, replaced)
    return restored, replaced


def published_version(conn: psycopg.Connection, schema: str) -> int | None:
    """The publication whose marts `schema` holds (None: no such schema, or not recorded)."""
    row = conn.execute("select publication_id from audit.marts_versions where schema_name = %s "
                       "and to_regnamespace(%s) is not null order by version_id desc limit 1",
                       (schema, schema)).fetchone()
    return row[0] if row else None


def grant_readers(conn: psycopg.Connection, schema: str) -> None:
    """Explicit grants: default privileges would have stayed with the renamed schema."""
    for role in READER_ROLES:
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), sql.Identifier(role)))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
            sql.Identifier(schema), sql.Identifier(role)))
    for table in person_level_tables(conn, schema):
        conn.execute(sql.SQL("revoke select on {} from bi_reader").format(sql.Identifier(schema, table)))
    conn.execute(sql.SQL("comment on schema {} is {}").format(
        sql.Identifier(schema), sql.Literal("Published marts: the BI contract / 发布数据集市")))


def _record_versions(conn: psycopg.Connection, published: str, publication_id: int | None, previous: str,
                     previous_id: int | None) -> None:
    """Which publication each schema now holds, in the swap's own transaction; BI loses the kept version."""
    conn.execute("insert into audit.marts_versions (schema_name, publication_id) values (%s, %s)",
                 (published, publication_id))
    if conn.execute("select to_regnamespace(%s) is not null", (previous,)).fetchone()[0]:
        conn.execute("insert into audit.marts_versions (schema_name, publication_id) values (%s, %s)",
                     (previous, previous_id))
        conn.execute(sql.SQL("comment on schema {} is {}").format(sql.Identifier(previous), sql.Literal(
            "Previous published marts, kept for rollback (audit.marts_versions) / 上一版本（可回滚）")))
        conn.execute(sql.SQL("revoke usage on schema {} from bi_reader").format(sql.Identifier(previous)))


def person_level_tables(conn: psycopg.Connection, schema: str) -> list[str]:
    """Marts bi_reader may not read: the listed row-level facts and any table with a person key."""
    return [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') and (c.relname = any(%s) or exists ("
        "select 1 from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "and a.attname like '%%person_key')) order by 1", (schema, list(PERSON_LEVEL_MARTS)))]
