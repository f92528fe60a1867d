"""Row-level security by county for BI logins, applied to the candidate marts before publication.

A county login sees only its county's rows in every mart that carries a division; a city-level
login sees every row. The mechanism is PostgreSQL row-level security (RLS):

- `security.bi_row_scopes` (reference data, loaded from `reference/bi_row_scopes.csv` whenever
  it changes, by `install_scopes` as the owner: a superuser publication or `make bi`) says which group role sees which county (`scope = county`) or everything
  (`scope = city`). The scope roles are NOLOGIN group roles that are members of `bi_reader`, so
  one grant gives a BI login both read access and its scope:
  `create role dongpo_bi login password '…' in role bi_county_511402;`
- Every mart of the candidate schema that has a division is found from the information schema
  (`reference/row_security.yml`: the county column, else a division column looked up in the
  divisions mart, else a parent mart it inherits from) and gets RLS enabled with a policy for
  `bi_reader`: the row's county must be one the login's scope roles grant, unless one of them is
  city-level. Members of `bi_reader` without a scope role see no division-bearing rows (deny by
  default). Auditors and the build role get an unrestricted policy; table owners and superusers
  bypass RLS anyway.
- Marts without a division (e.g. the headline KPIs, the service-item catalogue) are not filtered.

Because publication renames `marts_candidate` to `marts`, the policies are created on the
candidate tables *before* the swap: no reader ever sees a published table without its policy.
Policies and scopes live in the warehouse database; roles are cluster-wide, created if missing
(tolerating a concurrent creation by another database's publication). Once the scopes are
installed, a publication needs only the ownership of the candidate tables (e.g. gov_transform).
"""
from __future__ import annotations

import csv
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml
from psycopg import errors, sql

log = logging.getLogger(__name__)

CONFIG_FILE = Path(__file__).resolve().parent / "reference" / "row_security.yml"
SECURITY_SCHEMA = "security"
SCOPED_POLICY = "bi_county_scope"
UNRESTRICTED_POLICY = "unrestricted_rows"


@dataclass(frozen=True)
class Scope:
    role_name: str
    scope: str  # city | county
    county_code: str | None
    description: str = ""


@dataclass(frozen=True)
class RowSecurityConfig:
    county_column: str
    division_columns: tuple[str, ...]
    divisions_mart: str
    via_parent: dict[str, tuple[str, str]]  # mart -> (key column, parent mart)
    unrestricted_roles: tuple[str, ...]
    scoped_role: str
    scopes: tuple[Scope, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class MartPolicy:
    """How one mart is filtered: mode county (column), division (column via the divisions mart)
    or parent (key column, parent mart)."""
    table: str
    mode: str
    column: str
    parent: str | None = None


def load_config(path: Path | None = None) -> RowSecurityConfig:
    """The policy configuration and the scope reference data (`BI_ROW_SCOPES_FILE` overrides the CSV)."""
    path = path or Path(os.environ.get("ROW_SECURITY_CONFIG", CONFIG_FILE))
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    scopes_file = Path(os.environ.get("BI_ROW_SCOPES_FILE") or path.parent / raw["scopes_file"])
    return RowSecurityConfig(
        county_column=raw["county_column"],
        division_columns=tuple(raw["division_columns"]),
        divisions_mart=raw["divisions_mart"],
        via_parent={mart: (spec["key"], spec["parent"]) for mart, spec in (raw.get("via_parent") or {}).items()},
        unrestricted_roles=tuple(raw["unrestricted_roles"]),
        scoped_role=raw["scoped_role"],
        scopes=read_scopes(scopes_file),
    )


def read_scopes(path: Path) -> tuple[Scope, ...]:
    scopes = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            scope = Scope(row["role_name"].strip(), row["scope"].strip(), (row["county_code"] or "").strip() or None,
                          (row.get("description") or "").strip())
            if scope.scope not in ("city", "county") or (scope.scope == "county") != bool(scope.county_code):
                raise ValueError(f"{path}:{line}: scope must be 'city' (no county_code) or 'county' with a "
                                 f"county_code; got {row}")
            scopes.append(scope)
    names = [s.role_name for s in scopes]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: a role_name appears twice")
    return tuple(scopes)


def ensure_scope_roles(conn: psycopg.Connection, config: RowSecurityConfig) -> None:
    """Create the scope group roles (NOLOGIN, member of the scoped role) if missing.

    Roles are cluster-wide and other databases' publications may create them at the same
    moment: each statement runs in its own (sub)transaction and a concurrent creation is ignored.
    """
    for scope in config.scopes:
        role, reader = sql.Identifier(scope.role_name), sql.Identifier(config.scoped_role)
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (scope.role_name,)).fetchone()
        if not exists:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("create role {} nologin").format(role))
            except (errors.DuplicateObject, errors.UniqueViolation):
                pass
            except errors.InsufficientPrivilege:
                # Safe to go on: a scope whose role is missing grants nothing (deny by default).
                log.warning("row security: cannot create role %s (no CREATEROLE); create it as an administrator: "
                            "create role %s nologin in role %s", scope.role_name, scope.role_name, config.scoped_role)
                continue
        member = conn.execute(
            "select pg_has_role(%s, %s, 'member')", (scope.role_name, config.scoped_role)).fetchone()[0]
        if not member:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("grant {} to {}").format(reader, role))
            except (errors.DuplicateObject, errors.UniqueViolation, errors.InternalError_):
                pass  # granted concurrently ("tuple concurrently updated")
            except errors.InsufficientPrivilege:
                log.warning("row security: cannot grant %s to %s; its members will not read the marts",
                            config.scoped_role, scope.role_name)


def plan_policies(conn: psycopg.Connection, schema: str, config: RowSecurityConfig) -> list[MartPolicy]:
    """Which tables of `schema` are filtered and how, from the information schema and the config."""
    columns: dict[str, set[str]] = {}
    kinds: dict[str, str] = {}
    for table, column, kind in conn.execute(
        "select c.table_name, c.column_name, t.table_type from information_schema.columns as c "
        "join information_schema.tables as t on t.table_schema = c.table_schema and t.table_name = c.table_name "
        "where c.table_schema = %s", (schema,),
    ):
        columns.setdefault(table, set()).add(column)
        kinds[table] = kind
    policies = []
    for table in sorted(columns):
        cols = columns[table]
        if config.county_column in cols:
            policy = MartPolicy(table, "county", config.county_column)
        elif division := next((c for c in config.division_columns if c in cols), None):
            if config.divisions_mart not in columns:
                raise ValueError(f"{schema}.{table}: division column {division} needs the divisions mart "
                                 f"{config.divisions_mart}, which is not in {schema}")
            policy = MartPolicy(table, "division", division, config.divisions_mart)
        elif table in config.via_parent:
            key, parent = config.via_parent[table]
            if parent not in columns or key not in cols or key not in columns[parent]:
                raise ValueError(f"{schema}.{table}: parent {parent} or key {key} of row_security.yml is missing")
            policy = MartPolicy(table, "parent", key, parent)
        else:
            continue
        if kinds[table] != "BASE TABLE":
            raise ValueError(f"{schema}.{table} is a {kinds[table].lower()} with a division column: row-level "
                             "security applies to tables only (a view would show every row); materialize it as a table")
        policies.append(policy)
    return policies


def _predicate(schema: str, policy: MartPolicy) -> sql.Composable:
    counties = sql.SQL("cast((select {}.bi_visible_counties()) as text[])").format(sql.Identifier(SECURITY_SCHEMA))
    if policy.mode == "county":
        scoped = sql.SQL("{} = any({})").format(sql.Identifier(policy.column), counties)
    elif policy.mode == "division":
        scoped = sql.SQL("{} in (select lookup.division_code from {} as lookup where lookup.county_code = any({}))").format(
            sql.Identifier(policy.column), sql.Identifier(schema, policy.parent), counties)
    else:  # parent: visible when the parent row is visible (the parent's own policy filters the subquery)
        scoped = sql.SQL("{} in (select parent.{} from {} as parent)").format(
            sql.Identifier(policy.column), sql.Identifier(policy.column), sql.Identifier(schema, policy.parent))
    return sql.SQL("(select {}.bi_sees_all()) or {}").format(sql.Identifier(SECURITY_SCHEMA), scoped)


_SECURITY_DDL = """
create schema if not exists security;
comment on schema security is 'Row-level security of the marts: BI scope roles and their counties / 数据权限';
create table if not exists security.bi_row_scopes (
    role_name text primary key,
    scope text not null check (scope in ('city', 'county')),
    county_code text,
    description text,
    check ((scope = 'county') = (county_code is not null))
);
comment on table security.bi_row_scopes is
    'Which group role sees which county in the marts (scope city: all rows); loaded from reference data (bi_row_scopes.csv) / 数据权限范围';
create or replace function security.bi_sees_all() returns boolean
language sql stable set search_path = pg_catalog as $$
    select coalesce(bool_or(scopes.scope = 'city'), false)
    from security.bi_row_scopes as scopes
    inner join pg_roles as roles on roles.rolname = scopes.role_name
    where pg_has_role(current_user, roles.oid, 'member')
$$;
create or replace function security.bi_visible_counties() returns text[]
language sql stable set search_path = pg_catalog as $$
    select coalesce(array_agg(distinct scopes.county_code), '{}')
    from security.bi_row_scopes as scopes
    inner join pg_roles as roles on roles.rolname = scopes.role_name
    where scopes.scope = 'county' and pg_has_role(current_user, roles.oid, 'member')
$$;
"""


def install_scopes(conn: psycopg.Connection, config: RowSecurityConfig | None = None) -> bool:
    """The scope roles, the `security` schema, its functions and the scopes (reference data).

    Needs CREATEROLE and CREATE on the database: run by the owner or an administrator (a
    superuser publication, `make bi`). Skipped when installed with the same fingerprint, so a
    publication running as an unprivileged role only checks. Returns True when it installed.
    """
    config = config or load_config()
    fingerprint = hashlib.sha256(repr((_SECURITY_DDL, config)).encode()).hexdigest()
    if conn.execute("select to_regclass('security.installed') is not null").fetchone()[0]:
        row = conn.execute("select fingerprint from security.installed").fetchone()
        if row and row[0] == fingerprint:
            return False
    ensure_scope_roles(conn, config)
    readers = sql.SQL(", ").join(sql.Identifier(r) for r in (config.scoped_role, *config.unrestricted_roles))
    try:
        with conn.transaction():
            conn.execute(_SECURITY_DDL)
            conn.execute("delete from security.bi_row_scopes")
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into security.bi_row_scopes (role_name, scope, county_code, description) "
                    "values (%s, %s, %s, %s)",
                    [(s.role_name, s.scope, s.county_code, s.description) for s in config.scopes])
            conn.execute(sql.SQL("grant usage on schema security to {}").format(readers))
            conn.execute(sql.SQL("grant select on security.bi_row_scopes to {}").format(readers))
            conn.execute("create table if not exists security.installed (fingerprint text not null)")
            conn.execute("grant select on security.installed to public")
            conn.execute("delete from security.installed")
            conn.execute("insert into security.installed (fingerprint) values (%s)", (fingerprint,))
    except errors.InsufficientPrivilege as exc:
        raise RuntimeError(
            f"row security is not installed or its reference data changed, and {conn.info.user} may not install "
            "it: call warehouse.row_security.install_scopes() as the warehouse owner (make bi does)") from exc
    return True


def apply_row_security(conn: psycopg.Connection, schema: str, config: RowSecurityConfig | None = None
                       ) -> list[MartPolicy]:
    """Enable RLS with the county policies on every division-bearing table of `schema` (idempotent).

    Needs only the ownership of the tables once the scopes are installed (`install_scopes`).
    """
    config = config or load_config()
    install_scopes(conn, config)
    policies = plan_policies(conn, schema, config)
    with conn.transaction():
        for policy in policies:
            table = sql.Identifier(schema, policy.table)
            conn.execute(sql.SQL("alter table {} enable row level security").format(table))
            for name in (SCOPED_POLICY, UNRESTRICTED_POLICY):
                conn.execute(sql.SQL("drop policy if exists {} on {}").format(sql.Identifier(name), table))
            conn.execute(sql.SQL("create policy {} on {} for select to {} using ({})").format(
                sql.Identifier(SCOPED_POLICY), table, sql.Identifier(config.scoped_role), _predicate(schema, policy)))
            conn.execute(sql.SQL("create policy {} on {} for all to {} using (true) with check (true)").format(
                sql.Identifier(UNRESTRICTED_POLICY), table,
                sql.SQL(", ").join(sql.Identifier(r) for r in config.unrestricted_roles)))
    log.info("row security on %s: %d marts filtered by county", schema, len(policies))
    return policies
