"""Connections to the warehouse (psycopg 3) and small helpers around them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import psycopg

from warehouse.settings import get_settings


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(dsn or get_settings().dsn, autocommit=autocommit, application_name="gov-warehouse")


@contextmanager
def transaction(dsn: str | None = None) -> Iterator[psycopg.Connection]:
    """A connection whose work commits on success and rolls back on any error."""
    with connect(dsn) as conn:
        yield conn


def dsn_parts(dsn: str) -> dict[str, str]:
    """Split a libpq URI into the pieces dbt's profile and SQLAlchemy URLs need."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return {
        "host": str(info.get("host") or "127.0.0.1"),
        "port": str(info.get("port") or "5432"),
        "user": str(info.get("user") or "postgres"),
        "password": str(info.get("password") or ""),
        "dbname": str(info.get("dbname") or "postgres"),
        "passfile": str(info.get("passfile") or ""),
        "options": str(info.get("options") or ""),
    }


def with_database(dsn: str, dbname: str) -> str:
    """The same server, another database (used for isolated test databases)."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def sqlalchemy_url(dsn: str) -> str:
    """psycopg2 URL for SQLAlchemy (GX); the passfile and role options travel as libpq parameters."""
    parts = dsn_parts(dsn)
    auth = quote(parts["user"], safe="") + (f":{quote(parts['password'], safe='')}" if parts["password"] else "")
    query = {name: parts[name] for name in ("passfile", "options") if parts[name]}
    tail = f"?{urlencode(query, quote_via=quote, safe='/')}" if query else ""
    return f"postgresql+psycopg2://{auth}@{parts['host']}:{parts['port']}/{parts['dbname']}{tail}"
