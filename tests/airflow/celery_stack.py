"""A supervised CeleryExecutor stack for the end-to-end tests, started as `make airflow EXECUTOR=celery` starts it.

Every component, the two Celery workers included, runs under infra/supervise.py with the
settings of infra/airflow_env.py (broker: the Redis on 127.0.0.1:6379 with this stack's key
prefix; result backend: the fresh metadata database; queues routed by
infra/deploy/airflow_local_settings.py). Free ports, a temp AIRFLOW_HOME, fresh metadata and
warehouse databases. Leaving the context stops the stack the way `make stop` does
(`infra.supervise stop`), proves no process of it is left, and deletes its Redis keys.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

from infra import supervise
from infra.airflow_env import wait_healthy, wait_workers, worker_components
from tests.airflow.probes import metadata, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
WORKERS = ("worker1", "worker2")


class CeleryStack:
    """The supervised stack: supervisor process, its run and log folders, the env."""

    def __init__(self, env: dict[str, str], run_dir: Path, log_dir: Path) -> None:
        self.env = env
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.url = env["AIRFLOW__API__BASE_URL"]
        self.prefix = env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"]
        self.proc: subprocess.Popen | None = None
        self.killed: set[str] = set()  # components a test killed on purpose: their restart is expected

    def start(self) -> None:
        port = self.env["AIRFLOW__API__PORT"]
        args = [
            sys.executable, "-m", "infra.supervise", "run", "--run-dir", str(self.run_dir),
            "--log-dir", str(self.log_dir), "--grace", "20",
            "--component", f"api-server={AIRFLOW_BIN} api-server --host 127.0.0.1 --port {port}",
            "--after-port", port,
            "--component", f"scheduler={AIRFLOW_BIN} scheduler --skip-serve-logs",
            "--component", f"dag-processor={AIRFLOW_BIN} dag-processor",
            "--component", f"triggerer={AIRFLOW_BIN} triggerer --skip-serve-logs",
        ]  # fmt: skip
        for name, command in worker_components(str(AIRFLOW_BIN), workers=len(WORKERS)):
            args += ["--component", f"{name}={command}"]
        out = (self.log_dir / "supervisor.log").open("ab")
        self.proc = subprocess.Popen(
            args, env=self.env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def assert_running(self) -> None:
        """The supervisor runs and has restarted nothing but what a test killed (a restart means a death)."""
        assert self.proc is not None and self.proc.poll() is None, f"supervisor exited:\n{self.log('supervisor')}"
        died = [line for line in self.log("supervisor").splitlines()
                if " exited with " in line and not any(f"{name} exited with " in line for name in self.killed)]
        assert not died, self.log("supervisor")

    def groups(self) -> dict[str, int]:
        return {p.stem: int(p.read_text()) for p in self.run_dir.glob("*.pid") if p.read_text().strip().isdigit()}

    def wait_for(self, what: str, probe: Callable, timeout: float, poll: float = 1.0):
        return wait_for(what, probe, timeout, self, ("supervisor", "scheduler", *WORKERS), poll, tail=2000)

    def wait_watching(self, feeds) -> None:
        """Until the triggerer watches each feed's landing folder and the startup sweep has finished."""
        landing = Path(self.env["LANDING_URI"])
        for feed in feeds:
            self.wait_for(
                f"the landing watcher of {feed}",
                lambda feed=feed: f"Watching {(landing / feed).resolve()}" in self.log("triggerer"),
                90,
                poll=0.5,
            )
        self.wait_for(
            "the startup sweep to finish",
            lambda: (
                metadata(self.env, "select count(*) from dag_run where dag_id = 'landing_sweep'")[0][0] >= 1
                and metadata(self.env, "select count(*) from dag_run where state in ('queued', 'running')")[0][0] == 0
            ),
            120,
        )


@contextmanager
def running_celery_stack(env: dict[str, str], tmp_path: Path, migrate: Callable[[dict], float]) -> Iterator[CeleryStack]:
    run_dir, log_dir = tmp_path / "run", tmp_path / "logs"
    run_dir.mkdir()
    log_dir.mkdir()
    stack = CeleryStack(env, run_dir, log_dir)
    broker = redis.Redis.from_url(env["AIRFLOW__CELERY__BROKER_URL"])
    assert not list(broker.scan_iter(f"{stack.prefix}*")), f"Redis keys {stack.prefix}* exist before the test"
    print(f"\nairflow db migrate: {migrate(env):.1f} s")
    groups: dict[str, int] = {}
    try:
        started = time.monotonic()
        stack.start()
        wait_healthy(stack.url, timeout=180)
        workers_after = wait_workers(env, WORKERS, timeout=120)
        groups = stack.groups()
        print(f"stack healthy after {time.monotonic() - started:.1f} s (workers answering {workers_after:.1f} s later)")
        yield stack
    finally:
        stopped_at = time.monotonic()
        groups = {**groups, **stack.groups()}
        supervise.stop(run_dir, grace=20)  # what `make stop` runs
        if stack.proc is not None:
            stack.proc.wait(timeout=30)
        print(f"stopped in {time.monotonic() - stopped_at:.1f} s: {sorted(groups)}")
        left = [name for name, pgid in groups.items() if supervise.group_alive(pgid)]
        keys = list(broker.scan_iter(f"{stack.prefix}*"))
        if keys:
            broker.delete(*keys)
        assert not list(broker.scan_iter(f"{stack.prefix}*"))
        broker.close()
        for name in ("supervisor", "scheduler", *WORKERS):
            if "Traceback" in stack.log(name):
                print(f"--- {name} log (tail) ---\n{stack.log(name)[-2500:]}")
        assert left == [], f"still running after stop: {left}"
        assert {"supervisor", "api-server", *WORKERS} <= set(groups), groups


def warehouse(dsn: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def deliver(source: Path, folder: Path) -> None:
    """Write `name.part`, then rename: a finished delivery."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{source.name}.part"
    shutil.copyfile(source, partial)
    partial.rename(folder / source.name)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
