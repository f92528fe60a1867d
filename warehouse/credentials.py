"""Logins and their passwords: a libpq passfile under var/, never a password in a DSN.

Every DSN the platform hands out names a user and `?passfile=/abs/path`; libpq (psql,
psycopg, psycopg2 behind SQLAlchemy/GX, and dbt through PGPASSFILE) reads the password
from that file, so passwords never appear in DSNs, argv, logs or generated SQL. The
file is created mode 0600 (never chmod-ed afterwards) and replaced atomically.

The pipeline works through one login per group role (`LOGINS`); the owner DSN
(`WAREHOUSE_DSN`) is used only to bootstrap. Each login connects with its group role
set (`options=-c role=<group>`), so whatever it creates is owned by the group.
"""
from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg

from warehouse.settings import get_settings, private_dir

# role name people type -> (login, group role it belongs to)
LOGINS: dict[str, tuple[str, str]] = {
    "ingest": ("gov_ingest_login", "gov_ingest"),
    "transform": ("gov_transform_login", "gov_transform"),
    "bi": ("bi_login", "bi_reader"),
    "auditor": ("auditor_login", "auditor"),
    "steward": ("steward_login", "data_steward"),  # the only reader of clear rejected values (30_rejected_pii.sql)
}
PASSFILE_NAME = "pgpass"


def default_passfile() -> Path:
    return private_dir(get_settings().var_dir) / PASSFILE_NAME


def passfile_of(dsn: str) -> Path:
    """The passfile a DSN names, else the one under var/."""
    named = psycopg.conninfo.conninfo_to_dict(dsn).get("passfile")
    return Path(named) if named else default_passfile()


def new_password() -> str:
    """URL-safe: no ':' or '\\' to escape in the passfile."""
    return secrets.token_urlsafe(24)


def _entries(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split(":", 4) for line in path.read_text().splitlines() if line and not line.startswith("#")]


def lookup(path: Path, host: str, port: str, user: str) -> str | None:
    """The password libpq would use for host:port:*:user (first match, '*' matches anything)."""
    for entry in _entries(path):
        if len(entry) == 5 and entry[0] in (host, "*") and entry[1] in (port, "*") and entry[3] in (user, "*"):
            return entry[4]
    return None


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One writer of the passfile at a time (several processes may bootstrap at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def store(path: Path, host: str, port: str, user: str, password: str) -> None:
    """Set the password of host:port:*:user; exact entries are kept before wildcard ones."""
    kept = [e for e in _entries(path) if not (e[:2] == [host, port] and e[3] == user)]
    entries = [[host, port, "*", user, password], *kept]
    entries.sort(key=lambda e: (e[0] == "*", e[1] == "*"))
    write_private(path, "".join(":".join(e) + "\n" for e in entries))


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: created 0600 (never chmod-ed), renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def uri(host: str, port: str, dbname: str, user: str, *, passfile: Path, group: str | None = None) -> str:
    """A libpq URI without a password: the password comes from `passfile`."""
    query = {"passfile": str(passfile)}
    if group:
        query["options"] = f"-c role={group}"
    netloc = f"{quote(user, safe='')}@{host}:{port}" if not host.startswith("/") else quote(user, safe="") + "@"
    if host.startswith("/"):
        query["host"] = host
        query["port"] = port
    return f"postgresql://{netloc}/{quote(dbname, safe='')}?{urlencode(query, quote_via=quote, safe='/')}"


def login_dsn(owner_dsn: str, role: str) -> str:
    """The DSN of the login for `role` (ingest | transform | bi | auditor | steward) on the owner's database."""
    login, group = LOGINS[role]
    info = psycopg.conninfo.conninfo_to_dict(owner_dsn)
    return uri(str(info.get("host") or "127.0.0.1"), str(info.get("port") or "5432"),
               str(info.get("dbname") or "postgres"), login, passfile=passfile_of(owner_dsn), group=group)


def ensure_logins(conn: psycopg.Connection, owner_dsn: str) -> None:
    """Create each pipeline login (member of its group role) with a generated password, once.

    The password goes to the passfile; the server only ever sees its SCRAM verifier,
    computed here by libpq, so no clear password is in any SQL text or server log.
    """
    info = psycopg.conninfo.conninfo_to_dict(owner_dsn)
    host, port = str(info.get("host") or "127.0.0.1"), str(info.get("port") or "5432")
    path = passfile_of(owner_dsn)
    with locked(path):
        for login, group in LOGINS.values():
            password = lookup(path, host, port, login)
            exists = conn.execute("select rolcanlogin from pg_roles where rolname = %s", (login,)).fetchone()
            if password is not None and exists and exists[0]:
                continue
            password = password or new_password()
            verifier = conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
            _create_or_alter_login(conn, login, group, verifier)
            store(path, host, port, login, password)


def _create_or_alter_login(conn: psycopg.Connection, login: str, group: str, verifier: str) -> None:
    from psycopg import sql

    for _attempt in range(5):
        try:
            with conn.transaction():
                exists = conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone()
                verb = "alter" if exists else "create"
                conn.execute(sql.SQL(verb + " role {} login nosuperuser nocreatedb nocreaterole password {}").format(
                    sql.Identifier(login), sql.Literal(verifier)))
                conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(login)))
            return
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject, psycopg.errors.InternalError_):
            continue  # another database of the cluster created or altered it at the same moment
    raise RuntimeError(f"could not create login {login}")
