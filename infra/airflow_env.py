"""The environment of a local Airflow: every AIRFLOW__* setting in one place.

Used by `infra/airflow_local.sh` (`make airflow`) and by the Airflow tests, so the
stack under test is configured exactly like the one people run.

    python -m infra.airflow_env exports [--home var/airflow] [--port 8080]
        prints `export NAME='value'` lines for the shell (generating, on first use,
        the JWT secret, Fernet key, API secret key and the admin password, kept in
        <home>/secrets.json, mode 0600; var/ is git-ignored)
    python -m infra.airflow_env wait --url http://127.0.0.1:8080 [--timeout 120]
        waits until the api-server, scheduler, dag-processor and triggerer report
        healthy at /api/v2/monitor/health
    python -m infra.airflow_env password [--home var/airflow]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shlex
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ADMIN_USER = "admin"
COMPONENTS = ("scheduler", "dag_processor", "triggerer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_server_ports(api_port: int) -> tuple[int, int]:
    """Worker and triggerer log-server ports of the stack whose api-server listens on `api_port`."""
    return api_port + 713, api_port + 714


def sqlalchemy_url(dsn: str) -> str:
    """libpq URI (postgresql://...) -> SQLAlchemy URL with the psycopg2 driver."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg2://" + dsn[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URI: {dsn!r} (expected postgresql://user@host:port/db)")


def load_secrets(home: Path) -> dict[str, str]:
    """Secrets of this Airflow home, generated on first use and kept in <home>/secrets.json."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        "jwt_secret": lambda: secrets.token_urlsafe(64),  # >= 64 bytes, shared by all components
        "fernet_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "api_secret_key": lambda: secrets.token_urlsafe(32),
        "admin_password": lambda: secrets.token_urlsafe(12),
    }
    missing = {name: make() for name, make in wanted.items() if name not in stored}
    if missing:
        stored.update(missing)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2)
    passwords = home / "simple_auth_manager_passwords.json"
    fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({ADMIN_USER: stored["admin_password"]}, handle)
    return stored


def airflow_env(
    *,
    home: Path,
    metadata_dsn: str,
    api_port: int = 8080,
    worker_log_port: int | None = None,
    trigger_log_port: int | None = None,
    parallelism: int = 4,
    dags_folder: Path | None = None,
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of one local Airflow (base defaults to os.environ).

    The log-server ports follow the api port (8080 -> 8793, 8794, Airflow's defaults), so
    two stacks on one machine never share one. `make airflow` starts no log server at
    all (`--skip-serve-logs`: under LocalExecutor the api-server reads the log files);
    the ports only matter to whoever starts one anyway, and then Airflow binds them on
    every interface, which is why the local stack does not.
    """
    home = home.resolve()
    worker_log_port = worker_log_port or log_server_ports(api_port)[0]
    trigger_log_port = trigger_log_port or log_server_ports(api_port)[1]
    secret = load_secrets(home)
    env = dict(os.environ if base is None else base)
    pythonpath = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    api_url = f"http://127.0.0.1:{api_port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(pythonpath)),
            "GX_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": secret["fernet_key"],
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(metadata_dsn),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secret["api_secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": secret["jwt_secret"],
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        }
    )
    return env


def health(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=timeout) as response:
        return json.load(response)


def wait_healthy(url: str, timeout: float = 120.0, components: tuple[str, ...] = COMPONENTS) -> float:
    """Seconds until the api-server answers and every component reports healthy."""
    start = time.monotonic()
    last: object = None
    while time.monotonic() - start < timeout:
        try:
            last = health(url)
            if all((last.get(name) or {}).get("status") == "healthy" for name in ("metadatabase", *components)):
                return time.monotonic() - start
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"Airflow at {url} not healthy after {timeout:.0f} s; last answer: {last}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.airflow_env", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    exports = sub.add_parser("exports", help="print export lines for the shell")
    exports.add_argument("--home", type=Path, default=REPO_ROOT / "var" / "airflow")
    exports.add_argument("--port", type=int, default=8080)
    exports.add_argument("--metadata-dsn", help="libpq URI of the metadata database (default: local_pg --db airflow)")
    wait = sub.add_parser("wait", help="wait until all components are healthy")
    wait.add_argument("--url", default="http://127.0.0.1:8080")
    wait.add_argument("--timeout", type=float, default=120.0)
    wait.add_argument("--components", default=",".join(COMPONENTS))
    password = sub.add_parser("password", help="print the admin password")
    password.add_argument("--home", type=Path, default=REPO_ROOT / "var" / "airflow")
    args = parser.parse_args(argv)

    if args.action == "exports":
        metadata_dsn = args.metadata_dsn
        if not metadata_dsn:
            from infra import local_pg
            from warehouse.settings import get_settings

            metadata_dsn = local_pg.dsn(get_settings().var_dir / "pg", role="airflow")  # its own login
        base = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        env = airflow_env(home=args.home, metadata_dsn=metadata_dsn, api_port=args.port, base=base)
        for name, value in sorted(env.items()):
            print(f"export {name}={shlex.quote(value)}")
        return 0
    if args.action == "wait":
        components = tuple(c for c in args.components.split(",") if c)
        try:
            seconds = wait_healthy(args.url, args.timeout, components)
        except TimeoutError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{seconds:.1f}")
        return 0
    print(load_secrets(args.home)["admin_password"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
