"""Drop -> published latency through the local Airflow stack (goal: p50 <= 30 s).

The stack is started as `make airflow` starts it: the environment of
`infra.airflow_env.airflow_env`, `airflow db migrate`, then the four components under
`infra.supervise` (api-server first) — on free ports, with its own metadata database
and AIRFLOW_HOME, against the bench warehouse. Before it starts, the full scale-1
sample is loaded and published in-process, and one small delivery (an event-feed
delta with new keys) is ingested and published in-process as the baseline. Then five
such deliveries are dropped one after another (`name.part`, then a rename), each
waited for until its publication is recorded. The stack is stopped afterwards, always.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from infra.airflow_env import airflow_env, free_port, wait_healthy
from ingestion.generate import generate_sample
from ingestion.intake import ingest_pending
from ingestion.load import load_file
from tests.airflow.test_airflow_e2e import _deliver, _timeline
from tests.bench import BenchContext, Row, benchmark
from tests.bench.dbt_bench import _delta_files
from warehouse.db import with_database
from warehouse.publication import build_and_publish

FEED = "grid_events"
DROPS = 5
FRACTION = 0.002  # of the scale-10 rows, i.e. ~2% of the scale-1 feed: a small delivery
PUBLISH_TIMEOUT = 300
AIRFLOW = Path(sys.executable).with_name("airflow")
GOAL = "goal p50 <= 30 s"


def _say(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def _published(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        outcomes = dict(conn.execute(
            "select outcome, count(*) from audit.publications group by outcome").fetchall())
    if outcomes.get("blocked"):
        raise AssertionError(f"a publication was blocked: {outcomes}")
    return outcomes.get("published", 0)


def _delivery(context: BenchContext, label: str) -> Path:
    return _delta_files(context.work_dir / "deltas", 10, FRACTION, suffix=f"-{label}")[FEED]


class SupervisedStack:
    """The four components under infra.supervise, as infra/airflow_local.sh runs them."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self.env, self.home = env, home
        self.run_dir, self.log_dir = home / "run", home / "logs"
        self.url = env["AIRFLOW__API__BASE_URL"]
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        started = time.monotonic()
        migrate = subprocess.run([str(AIRFLOW), "db", "migrate"], env=self.env, capture_output=True, text=True,
                                 timeout=600)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        port = self.env["AIRFLOW__API__PORT"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infra.supervise", "run", "--run-dir", str(self.run_dir),
             "--log-dir", str(self.log_dir), "--grace", "30",
             "--component", f"api-server={AIRFLOW} api-server --host 127.0.0.1 --port {port}",
             "--after-port", port,
             "--component", f"scheduler={AIRFLOW} scheduler --skip-serve-logs",
             "--component", f"dag-processor={AIRFLOW} dag-processor",
             "--component", f"triggerer={AIRFLOW} triggerer --skip-serve-logs"],
            env=self.env, stdout=(self.log_dir / "supervisor.log").open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        wait_healthy(self.url, timeout=240)
        return time.monotonic() - started

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def metadata(self, query: str, *params) -> list[tuple]:
        dsn = self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            return conn.execute(query, params).fetchall()

    def stop(self) -> None:
        subprocess.run([sys.executable, "-m", "infra.supervise", "stop", "--run-dir", str(self.run_dir),
                        "--grace", "30"], env=self.env, capture_output=True, timeout=120)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _wait(what: str, probe, timeout: float, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@benchmark
def drop_to_published_latency(context: BenchContext) -> list[Row]:
    if context.options.get("skip_latency"):
        return []
    dsn = context.dsn
    landing = context.work_dir / "landing"
    os.environ.update({"WAREHOUSE_DSN": dsn, "LANDING_URI": str(landing)})

    # The state every drop lands on: the whole scale-1 sample, published.
    for feed, path in generate_sample(context.work_dir / "sample").items():
        load_file(feed, path, dsn=dsn)
    assert build_and_publish("bench-latency-setup", dsn=dsn)["outcome"] == "published"

    # Baseline: the same kind of drop, ingested and published in-process (no orchestration).
    _deliver(_delivery(context, "B"), landing / FEED)
    started = time.perf_counter()
    assert [s["status"] for s in ingest_pending(FEED, dsn=dsn)] == ["loaded"]
    assert build_and_publish("bench-latency-baseline", dsn=dsn)["outcome"] == "published"
    baseline = time.perf_counter() - started
    _say(f"baseline (ingest + build_and_publish in-process): {baseline:.1f}s")

    with psycopg.connect(dsn, autocommit=True) as conn:
        metadata_db = f"{conn.info.dbname}_airflow"
        conn.execute(f'create database "{metadata_db}"')
    home = context.work_dir / "airflow_home"
    (home / "plugins").mkdir(parents=True, exist_ok=True)
    api_port = free_port()
    env = airflow_env(home=home, metadata_dsn=with_database(dsn, metadata_db), api_port=api_port,
                      worker_log_port=free_port(), trigger_log_port=free_port())
    stack = SupervisedStack(env, home)
    seconds: list[float] = []
    try:
        _say(f"stack healthy after {stack.start():.1f}s (migrate + start, port {api_port})")
        _wait("the landing watcher", lambda: f"Watching {(landing / FEED).resolve()}" in stack.log("triggerer"), 180)
        _wait("the startup runs to finish", lambda: stack.metadata(
            "select count(*) from dag_run where state in ('queued', 'running')")[0][0] == 0, 180)
        for n in range(1, DROPS + 1):
            source = _delivery(context, f"L{n}")
            before = _published(dsn)
            dropped, dropped_at = _deliver(source, landing / FEED), time.time()
            _wait(f"drop {n} published", lambda before=before: _published(dsn) > before, PUBLISH_TIMEOUT)
            seconds.append(time.monotonic() - dropped)
            _say(f"drop {n}: {seconds[-1]:.1f}s drop->published")
            for line in _timeline(stack.env, dropped_at):
                _say(f"  {line}")
            _wait("the runs of the drop to finish", lambda: stack.metadata(
                "select count(*) from dag_run where state in ('queued', 'running')")[0][0] == 0, 120)
    finally:
        stack.stop()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{metadata_db}" with (force)')
    p50 = statistics.median(seconds)
    load = Path("/proc/loadavg").read_text().split()[0]
    return [
        Row(f"drop->published p50 ({DROPS} drops of {FEED})", seconds=p50, ratio=p50 / baseline,
            note=f"{GOAL}: {'met' if p50 <= 30 else 'NOT met'}; ratio = p50 / baseline; load {load}"),
        Row("drop->published min", seconds=min(seconds), note=GOAL),
        Row("drop->published max", seconds=max(seconds), note=GOAL),
        Row("baseline: ingest + build_and_publish in-process", seconds=baseline,
            note="same kind of drop, no orchestration"),
    ]
