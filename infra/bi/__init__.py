"""Apache Superset as the local BI client: `make bi` (start) and `make stop`.

    python -m infra.bi start|stop|status|password

Superset runs from its own venv (.venv-bi, built from the lock infra/bi/requirements.txt by
infra/bi/install.sh) as one idle gunicorn worker bound to 127.0.0.1:BI_PORT (default 8088).
This launcher runs in the project's venv and prepares the warehouse side:

- the metadata database `superset` on the warehouse's server (owned by login `superset_meta`);
- the read-only BI login `bi_superset`: member of the city-level scope role `bi_city`, hence of
  `bi_reader` (SELECT on `marts` only; row-level security lets it see every county) — never the
  owner or a superuser; Superset's connection also sets default_transaction_read_only;
- secrets generated once under var/bi/ with mode 0600 (SECRET_KEY, admin, BI login and metadata
  passwords). Role passwords are sent to PostgreSQL as SCRAM-SHA-256 verifiers, never in clear.

Then, with Superset's interpreter: `superset db upgrade`, infra/bi/setup_superset.py
(permissions on first start, admin user, dashboards bundle import, Chinese column labels), and
gunicorn. Telemetry off (SCARF_ANALYTICS=false, DO_NOT_TRACK=1; no CSP slot for the pixel).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import errors, sql

REPO_ROOT = Path(__file__).resolve().parents[2]
BI_DIR = Path(__file__).resolve().parent
DEFAULT_PORT = 8088
SCOPE_ROLE = "bi_city"  # the Superset login sees every county (warehouse/reference/bi_row_scopes.csv)


@dataclass(frozen=True)
class BiPaths:
    root: Path  # var/bi

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def pid_file(self) -> Path:
        return self.run / "superset.pid"

    @property
    def log(self) -> Path:
        return self.root / "logs" / "superset.log"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def secret(self, name: str) -> Path:
        return self.root / name


@dataclass(frozen=True)
class BiServer:
    url: str
    port: int
    pid: int
    admin_password: str
    bi_login: str
    metadata_db: str
    seconds: float


def write_secret(path: Path, nbytes: int = 32) -> str:
    """The secret in `path`, generated on first use; the file is created 0600 (never chmod'ed later)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(nbytes)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
    return path.read_text().strip()


def scram_verifier(conn: psycopg.Connection, login: str, password: str) -> str:
    """libpq's SCRAM-SHA-256 verifier (as psql's \\password), so the clear password never reaches the server."""
    return conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()


def _ensure_login(conn: psycopg.Connection, login: str, password: str, member_of: str | None) -> None:
    """A LOGIN role without any special attribute, with this password; member of `member_of`."""
    ident = sql.Identifier(login)
    if not conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone():
        try:
            conn.execute(sql.SQL("create role {} login").format(ident))
        except (errors.DuplicateObject, errors.UniqueViolation):
            pass  # created concurrently
    conn.execute(sql.SQL("alter role {} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls "
                         "password {}").format(ident, sql.Literal(scram_verifier(conn, login, password))))
    if member_of and not conn.execute("select pg_has_role(%s, %s, 'member')", (login, member_of)).fetchone()[0]:
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(member_of), ident))


def prepare_warehouse(admin_dsn: str, paths: BiPaths, *, metadata_db: str, bi_login: str, meta_login: str
                      ) -> dict[str, str]:
    """Roles, the metadata database and the secrets; returns the URIs (without passwords) Superset needs."""
    from warehouse.bootstrap import bootstrap
    from warehouse.db import dsn_parts
    from warehouse.row_security import install_scopes

    bootstrap(admin_dsn)  # bi_reader and the other group roles (idempotent)
    bi_password = write_secret(paths.secret("bi_login.password"))
    meta_password = write_secret(paths.secret("metadata.password"))
    write_secret(paths.secret("secret_key"), 48)
    write_secret(paths.secret("admin.password"), 18)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        install_scopes(conn)  # the scope roles (bi_city) and the security schema, as an administrator
        _ensure_login(conn, bi_login, bi_password, SCOPE_ROLE)
        _ensure_login(conn, meta_login, meta_password, None)
        if not conn.execute("select 1 from pg_database where datname = %s", (metadata_db,)).fetchone():
            conn.execute(sql.SQL("create database {} owner {}").format(
                sql.Identifier(metadata_db), sql.Identifier(meta_login)))
        else:
            conn.execute(sql.SQL("alter database {} owner to {}").format(
                sql.Identifier(metadata_db), sql.Identifier(meta_login)))
    parts = dsn_parts(admin_dsn)
    server = f"{parts['host']}:{parts['port']}"
    return {
        "warehouse": f"postgresql+psycopg2://{bi_login}@{server}/{parts['dbname']}",
        "metadata": f"postgresql+psycopg2://{meta_login}@{server}/{metadata_db}",
    }


def _env(paths: BiPaths, metadata_uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SUPERSET_CONFIG_PATH": str(BI_DIR / "superset_config.py"),
        "SUPERSET_HOME": str(paths.home),
        "BI_SECRET_KEY_FILE": str(paths.secret("secret_key")),
        "BI_METADATA_URI": metadata_uri,
        "BI_METADATA_PASSWORD_FILE": str(paths.secret("metadata.password")),
        "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1", "SUPERSET_LOAD_EXAMPLES": "no",
        "FLASK_APP": "superset.app:create_app()", "PYTHONUNBUFFERED": "1",
    })
    env.pop("WAREHOUSE_DSN", None)  # Superset never sees the administrative DSN
    return env


def _migrated(admin_dsn: str, metadata_db: str) -> bool:
    from warehouse.db import with_database

    with psycopg.connect(with_database(admin_dsn, metadata_db)) as conn:
        return conn.execute("select to_regclass('public.alembic_version') is not null").fetchone()[0]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _alive(pid_file: Path) -> int | None:
    """The pid of our gunicorn when it runs (a stale pid file naming another program does not count)."""
    try:
        pid = int(pid_file.read_text())
        if not Path("/proc/self").exists():  # no procfs (macOS): trust the pid file
            os.kill(pid, 0)
            return pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid if b"gunicorn" in cmdline and b"superset.app:create_app()" in cmdline else None


def health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def _run(cmd: list[str], env: dict[str, str], log: Path, what: str) -> str:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {what}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}); see {log}:\n{result.stderr[-3000:]}")
    return result.stdout


def install(venv: Path) -> None:
    subprocess.run(["bash", str(BI_DIR / "install.sh"), str(venv)], check=True)


def start(*, port: int | None = None, var_dir: Path | None = None, admin_dsn: str | None = None,
          venv: Path | None = None, metadata_db: str = "superset", bi_login: str = "bi_superset",
          meta_login: str = "superset_meta", timeout: float = 180) -> BiServer:
    """Prepare and start Superset (idempotent: a running one is left alone). Returns where it listens."""
    from warehouse.settings import get_settings

    settings = get_settings()
    paths = BiPaths((var_dir or settings.var_dir) / "bi")
    venv = venv or REPO_ROOT / ".venv-bi"
    port = port or int(os.environ.get("BI_PORT", DEFAULT_PORT))
    url = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    if (pid := _alive(paths.pid_file)) and health(url):
        return BiServer(url, port, pid, write_secret(paths.secret("admin.password")), bi_login, metadata_db, 0.0)
    stop(paths.root)
    if not _port_free(port):
        raise RuntimeError(f"port {port} is taken by another program; set BI_PORT to use another one")
    install(venv)
    for sub in (paths.run, paths.log.parent, paths.home):
        sub.mkdir(parents=True, exist_ok=True)
    if admin_dsn is None:
        from infra.local_pg import use_local_unless_configured

        admin_dsn = use_local_unless_configured()  # WAREHOUSE_DSN, else the embedded server (started)
    uris = prepare_warehouse(admin_dsn, paths, metadata_db=metadata_db, bi_login=bi_login,
                             meta_login=meta_login)
    env = _env(paths, uris["metadata"])
    paths.log.write_text("")
    steps: dict[str, float] = {}
    # Migrations, permissions and roles run on the first start and whenever Superset's lock changes.
    version = (venv / ".installed").read_text().strip() if (venv / ".installed").exists() else "?"
    init_stamp = paths.root / f"initialized.{metadata_db}"
    fresh = (not init_stamp.exists() or init_stamp.read_text().strip() != version
             or not _migrated(admin_dsn, metadata_db))
    if fresh:
        _run([str(venv / "bin" / "superset"), "db", "upgrade"], env, paths.log, "superset db upgrade")
        steps["db_upgrade"] = time.monotonic() - began
    out = _run([str(venv / "bin" / "python"), str(BI_DIR / "setup_superset.py"), "--bundle", str(BI_DIR / "bundle"),
                "--warehouse-uri", uris["warehouse"],
                "--warehouse-password-file", str(paths.secret("bi_login.password")),
                "--admin-password-file", str(paths.secret("admin.password")), *(["--init"] if fresh else [])],
               env, paths.log, "setup (permissions, admin, bundle, labels)")
    steps["setup"] = time.monotonic() - began
    init_stamp.write_text(version)
    setup = json.loads(out.strip().splitlines()[-1])
    with paths.log.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(
            [str(venv / "bin" / "gunicorn"), "--workers", "1", "--worker-class", "gthread", "--threads", "4",
             "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "10", "--limit-request-line", "0",
             "--limit-request-field_size", "0", "--no-control-socket", "superset.app:create_app()"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    paths.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while not health(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(paths.root)
            raise RuntimeError(f"Superset did not become healthy at {url}; see {paths.log}:\n"
                               + paths.log.read_text()[-3000:])
        time.sleep(0.5)
    server = BiServer(url, port, process.pid, write_secret(paths.secret("admin.password")), bi_login, metadata_db,
                      round(time.monotonic() - began, 1))
    steps = {name: round(seconds, 1) for name, seconds in steps.items()}
    with paths.log.open("a", encoding="utf-8") as log:
        log.write(f"--- healthy after {server.seconds} s (cumulative: {steps}); setup {setup}\n")
    return server


def stop(root: Path | None = None, grace: float = 20) -> bool:
    """Stop the gunicorn started by `start` (its own process group). True when one was running."""
    if root is None:
        from warehouse.settings import get_settings

        root = get_settings().var_dir / "bi"
    paths = BiPaths(root)
    pid = _alive(paths.pid_file)
    if pid is None:
        paths.pid_file.unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while not _gone(pid):
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.2)
    paths.pid_file.unlink(missing_ok=True)
    return True


def _gone(pid: int) -> bool:
    try:  # our child (tests): reap it, or a zombie would look alive
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
