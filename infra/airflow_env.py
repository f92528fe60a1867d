"""The environment of a local Airflow: every AIRFLOW__* setting in one place.

Used by `infra/airflow_local.sh` (`make airflow`) and by the Airflow tests, so the
stack under test is configured exactly like the one people run.

    python -m infra.airflow_env exports [--home var/airflow] [--port 8080] [--executor local|celery]
        prints `export NAME='value'` lines for the shell (generating, on first use,
        the JWT secret, Fernet key, API secret key and the admin password, kept in
        <home>/secrets.json, mode 0600; var/ is git-ignored)
    python -m infra.airflow_env worker-components [--workers 2] [--concurrency 2]
        prints NAME=COMMAND of each Celery worker (infra.supervise --component), one a line
    python -m infra.airflow_env wait-workers --names worker1,worker2 [--timeout 120]
        (with the exported environment) waits until those Celery workers answer a ping
    python -m infra.airflow_env wait --url http://127.0.0.1:8080 [--timeout 120]
        waits until the api-server, scheduler, dag-processor and triggerer report
        healthy at /api/v2/monitor/health
    python -m infra.airflow_env password [--home var/airflow]

CeleryExecutor (`make airflow EXECUTOR=celery`): broker = the Redis on this machine
(REDIS_URL, default redis://127.0.0.1:6379/0) with every key, queue and pub/sub channel
prefixed `airflow-<api port>:` (kombu's global_keyprefix), so two stacks on one Redis never
take each other's tasks; result backend = the metadata database through the same login and
passfile as the metadata connection (`db+postgresql+psycopg2://…?passfile=…`, no password).
The queue routing is the deployment's own policy module (infra/deploy/airflow_local_settings.py,
put on PYTHONPATH, not copied).
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
DEPLOY_DIR = REPO_ROOT / "infra" / "deploy"
ADMIN_USER = "admin"
COMPONENTS = ("scheduler", "dag_processor", "triggerer")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
WORKER_NAME_VAR = "GOV_WORKER_NAME"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_server_ports(api_port: int) -> tuple[int, int]:
    """Worker and triggerer log-server ports of the stack whose api-server listens on `api_port`."""
    return api_port + 713, api_port + 714


def redis_key_prefix(api_port: int) -> str:
    """The Redis key prefix of the stack whose api-server listens on `api_port` (one per stack)."""
    return f"airflow-{api_port}:"


def worker_hostname() -> str:
    """Airflow's hostname_callable: `<worker>@<fqdn>` inside a Celery worker, else the FQDN.

    Two workers on one machine would otherwise both record the machine's name in
    task_instance.hostname; this one matches the worker's Celery node name.
    """
    fqdn = socket.getfqdn()
    name = os.environ.get(WORKER_NAME_VAR)
    return f"{name}@{fqdn}" if name else fqdn


def celery_env(*, api_port: int, metadata_dsn: str, redis_url: str | None = None) -> dict[str, str]:
    """The CeleryExecutor settings of one local stack (see the module docstring)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": EXECUTORS["celery"],
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "infra.airflow_env.worker_hostname",
        "AIRFLOW__CELERY__BROKER_URL": redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": redis_key_prefix(api_port),
        # The provider's default, said out loud (it warns otherwise). A task of a dead worker is
        # not left to this: the scheduler fails or retries it (task heartbeats, queued timeout).
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sqlalchemy_url(metadata_dsn),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": "ingest",
    }


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
    executor: str = "local",
    redis_url: str | None = None,
) -> dict[str, str]:
    """The full environment of one local Airflow (base defaults to os.environ).

    The log-server ports follow the api port (8080 -> 8793, 8794, Airflow's defaults), so
    two stacks on one machine never share one. `make airflow` starts no log server at
    all (`--skip-serve-logs`: under LocalExecutor the api-server reads the log files);
    the ports only matter to whoever starts one anyway, and then Airflow binds them on
    every interface, which is why the local stack does not (nor do its Celery workers:
    they write task logs to the same folder the api-server reads).

    executor: "local" (LocalExecutor) or "celery" (CeleryExecutor, see `celery_env`).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    home = home.resolve()
    worker_log_port = worker_log_port or log_server_ports(api_port)[0]
    trigger_log_port = trigger_log_port or log_server_ports(api_port)[1]
    secret = load_secrets(home)
    env = dict(os.environ if base is None else base)
    # Celery: the deployment's cluster policy (queues) is imported as airflow_local_settings.
    policy_path = [str(DEPLOY_DIR)] if executor == "celery" else []
    pythonpath = [str(REPO_ROOT), *policy_path] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
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
    if executor == "celery":
        env.update(celery_env(api_port=api_port, metadata_dsn=metadata_dsn, redis_url=redis_url))
    return env


def worker_components(airflow_bin: str, workers: int = 2, concurrency: int = 2) -> list[tuple[str, str]]:
    """(name, command) of each local Celery worker, for infra.supervise `--component NAME=COMMAND`.

    worker1 serves the queues build and ingest, worker2… ingest only: every worker takes
    ingests, and builds never run two at once anyway (max_active_runs and max_active_tasks
    of build_publish are 1, set by the policy module), so a dedicated build worker would
    only hold an idle process on a 2-core machine. No log server (`--skip-serve-logs`):
    Airflow's binds every interface, and the api-server reads the task log files directly.
    """
    if workers < 1 or concurrency < 1:
        raise ValueError("workers and concurrency must be at least 1")
    components = []
    for index in range(1, workers + 1):
        name = f"worker{index}"
        queues = "build,ingest" if index == 1 else "ingest"
        components.append(
            (
                name,
                f"env {WORKER_NAME_VAR}={name} {airflow_bin} celery worker --queues {queues} "
                f"--concurrency {concurrency} --celery-hostname {name}@%h --skip-serve-logs",
            )
        )
    return components


def celery_ping(env: dict[str, str], timeout: float = 2.0) -> set[str]:
    """Node names (`worker1@host`) of the Celery workers of the stack configured by `env` that answer."""
    from celery import Celery

    app = Celery(
        broker=env["AIRFLOW__CELERY__BROKER_URL"],
        broker_transport_options={
            "global_keyprefix": env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"]
        },
    )
    try:
        return {name for reply in app.control.ping(timeout=timeout) for name in reply}
    finally:
        app.close()


def wait_workers(env: dict[str, str], names: tuple[str, ...], timeout: float = 120.0) -> float:
    """Seconds until a Celery worker of each name (the part before `@`) answers a ping."""
    from kombu.exceptions import OperationalError

    start = time.monotonic()
    seen: set[str] = set()
    while time.monotonic() - start < timeout:
        try:
            seen = {node.split("@", 1)[0] for node in celery_ping(env)}
        except (OSError, OperationalError) as exc:  # the broker is not reachable (yet)
            seen = {f"no broker: {exc}"}
        if set(names) <= seen:
            return time.monotonic() - start
        time.sleep(1.0)
    raise TimeoutError(f"Celery workers {sorted(names)} not all answering after {timeout:.0f} s; answered: {seen}")


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
    exports.add_argument("--executor", choices=sorted(EXECUTORS), default="local")
    wait = sub.add_parser("wait", help="wait until all components are healthy")
    wait.add_argument("--url", default="http://127.0.0.1:8080")
    wait.add_argument("--timeout", type=float, default=120.0)
    wait.add_argument("--components", default=",".join(COMPONENTS))
    components = sub.add_parser("worker-components", help="print NAME=COMMAND of each Celery worker, one a line")
    components.add_argument("--airflow", default=str(Path(sys.executable).with_name("airflow")))
    components.add_argument("--workers", type=int, default=2)
    components.add_argument("--concurrency", type=int, default=2)
    workers = sub.add_parser("wait-workers", help="wait until the Celery workers answer (exported environment)")
    workers.add_argument("--names", required=True, help="comma-separated worker names, e.g. worker1,worker2")
    workers.add_argument("--timeout", type=float, default=120.0)
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
        env = airflow_env(
            home=args.home, metadata_dsn=metadata_dsn, api_port=args.port, base=base, executor=args.executor
        )
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
    if args.action == "worker-components":
        for name, command in worker_components(args.airflow, args.workers, args.concurrency):
            print(f"{name}={command}")
        return 0
    if args.action == "wait-workers":
        try:
            seconds = wait_workers(dict(os.environ), tuple(n for n in args.names.split(",") if n), args.timeout)
        except TimeoutError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{seconds:.1f}")
        return 0
    print(load_secrets(args.home)["admin_password"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
