"""Faults an operator meets, on one supervised Airflow stack: each heals without a person.

One stack for the whole module (as `make airflow` runs it: infra/supervise.py keeps the
api-server, scheduler, dag-processor and triggerer running) on an embedded PostgreSQL
started by this module in a temp dir, so it can be restarted without touching the
machine's shared server. The warehouse starts with the whole scale-1 sample published;
then, one fault per test, a new delivery (an event feed at a larger scale) is dropped
and the test waits until it is loaded exactly once and published:

- kill -9 of the triggerer (the landing watcher): the supervisor restarts it;
- kill -9 of an ingest task during its COPY: the transaction rolls back, Airflow retries;
- kill -9 of the build task: dbt dies with it, the retry marks the attempt `failed`;
- kill -9 of dbt alone: recorded `failed` (never `blocked`), retried;
- a PostgreSQL restart (6 s down) while Airflow runs: components that exit are restarted.

Each prints its time to recover (`recovered in`), also recorded as a junit property.
Run alone with `make test-faults`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from infra import local_pg
from infra.airflow_env import airflow_env, free_port, wait_healthy
from infra.supervise import group_alive

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
RECOVER_TIMEOUT = 300  # seconds from the fault to published marts, per fault


@dataclass
class Stack:
    env: dict[str, str]
    pg_root: Path
    run_dir: Path
    log_dir: Path
    var_dir: Path
    work: Path
    supervisor: subprocess.Popen | None = None
    recovered: dict[str, float] = field(default_factory=dict)

    @property
    def warehouse(self) -> str:
        return self.env["WAREHOUSE_DSN"]

    def metadata(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(local_pg.dsn(self.pg_root, "airflow")) as conn:
            return conn.execute(query, params).fetchall()

    def query(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.warehouse) as conn:
            return conn.execute(query, params).fetchall()

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pid(self, component: str) -> int:
        return int((self.run_dir / f"{component}.pid").read_text())

    def logs_tail(self) -> str:
        return "\n".join(f"--- {n} ---\n{self.log(n)[-2500:]}" for n in ("supervisor", *COMPONENTS))

    def wait_for(self, what: str, probe: Callable[[], object], timeout: float = RECOVER_TIMEOUT,
                 poll: float = 0.5) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = probe()
            except psycopg.OperationalError:  # the database is restarting
                value = None
            if value:
                return value
            assert self.supervisor.poll() is None, f"the supervisor exited\n{self.logs_tail()}"
            time.sleep(poll)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs_tail()}")

    def deliver(self, feed: str, scale: int) -> Path:
        """Generate `feed` at `scale` and deliver it like a department should (write .part, rename)."""
        from ingestion.generate import generate_sample

        source = generate_sample(self.work / f"{feed}-{scale}", scale=scale, feeds=[feed])[feed]
        folder = Path(self.env["LANDING_URI"]) / feed
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{feed}-{scale}{source.suffix}.part"
        shutil.copyfile(source, partial)
        partial.rename(folder / f"{feed}-{scale}{source.suffix}")
        return source

    def loaded_once_and_published(self, feed: str, file_name: str) -> Callable[[], int | None]:
        """A probe: the batch id once the file is loaded exactly once and a publication includes it."""
        def probe() -> int | None:
            rows = self.query("select batch_id, status from audit.ingestion_batches where feed_id = %s "
                              "and file_name = %s and status <> 'duplicate'", feed, file_name)
            if not rows:
                return None
            assert len(rows) == 1 and rows[0][1] in ("loaded", "partial"), f"{file_name} loaded more than once: {rows}"
            published = self.query("select count(*) from audit.publications where outcome = 'published' "
                                   "and %s = any(source_batches)", rows[0][0])[0][0]
            return rows[0][0] if published else None
        return probe

    def assert_truthful(self) -> None:
        """No publication left running, none blocked (every fault here is infrastructure), nothing half-loaded."""
        assert self.query("select count(*) from audit.publications where outcome in ('running', 'blocked')"
                          )[0][0] == 0, self.query("select publication_id, outcome, message from audit.publications")
        assert self.query("select count(*) from audit.ingestion_batches where status = 'loading'")[0][0] == 0
        assert self.query("select count(*) from audit.ingestion_batches "
                          "where rows_in <> rows_loaded + rows_rejected")[0][0] == 0


def processes() -> Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def dbt_build_pid(var_dir: Path) -> int | None:
    """The running `dbt build` of this stack's warehouse (its target path lies under our var dir)."""
    for pid, argv in processes():
        if any(a.endswith("/dbt") for a in argv[:2]) and "build" in argv and any(str(var_dir) in a for a in argv):
            return pid
    return None


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not under pytest's basetemp: another pytest session on the machine prunes old basetemps,
    # which would delete the data directory of this module's PostgreSQL while it runs.
    base = Path(tempfile.mkdtemp(prefix="gov-faults-"))
    try:
        yield from _stack(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _stack(base: Path) -> Iterator[Stack]:
    from ingestion.generate import generate_sample
    from ingestion.load import load_file
    from warehouse.bootstrap import bootstrap
    from warehouse.publication import build_and_publish

    pg_root, var_dir, work = base / "pg", base / "var", base / "work"
    var_dir.mkdir()
    warehouse = local_pg.start(pg_root)
    settings = {
        "WAREHOUSE_DSN": warehouse, "GOV_VAR_DIR": str(var_dir), "LANDING_URI": str(base / "landing"),
        "ARCHIVE_DIR": str(base / "archive"), "REPORTS_DIR": str(base / "reports"),
        "PII_HMAC_KEY": "test-key-not-secret",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        # The starting point: the whole scale-1 sample loaded and published.
        bootstrap(warehouse)
        for feed, path in generate_sample(work / "sample").items():
            load_file(feed, path)
        assert build_and_publish("baseline")["outcome"] == "published"

        home = base / "airflow_home"
        (home / "plugins").mkdir(parents=True)
        env = airflow_env(home=home, metadata_dsn=local_pg.dsn(pg_root, "airflow"), api_port=free_port(),
                          base={**os.environ, **settings})
        env.update({"AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                    "GOV_RETRY_DELAY_SECONDS": "3"})
        env.pop("PYTEST_CURRENT_TEST", None)
        migrated = subprocess.run([str(AIRFLOW_BIN), "db", "migrate"], env=env, capture_output=True, text=True)
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]

        run_dir, log_dir = home / "run", home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        port = env["AIRFLOW__API__PORT"]
        stack = Stack(env=env, pg_root=pg_root, run_dir=run_dir, log_dir=log_dir, var_dir=var_dir, work=work)
        supervisor_log = (log_dir / "supervisor.log").open("ab")
        stack.supervisor = subprocess.Popen(
            [sys.executable, "-m", "infra.supervise", "run", "--run-dir", str(run_dir), "--log-dir", str(log_dir),
             "--grace", "20",
             "--component", f"api-server={AIRFLOW_BIN} api-server --host 127.0.0.1 --port {port}",
             "--after-port", port,
             "--component", f"scheduler={AIRFLOW_BIN} scheduler --skip-serve-logs",
             "--component", f"dag-processor={AIRFLOW_BIN} dag-processor",
             "--component", f"triggerer={AIRFLOW_BIN} triggerer --skip-serve-logs"],
            env=env, cwd=REPO_ROOT, stdout=supervisor_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            print(f"\nstack healthy after {wait_healthy(env['AIRFLOW__API__BASE_URL'], timeout=180):.1f} s")
            landing = Path(env["LANDING_URI"])
            feeds = len(list((REPO_ROOT / "ingestion" / "specs").glob("*.yml")))
            stack.wait_for("the landing watchers",
                           lambda: stack.log("triggerer").count(f"Watching {landing.resolve()}") >= feeds, 120)
            yield stack
        finally:
            groups = {p.stem: int(p.read_text()) for p in run_dir.glob("*.pid")}
            stopped = subprocess.run([sys.executable, "-m", "infra.supervise", "stop", "--run-dir", str(run_dir),
                                      "--grace", "20"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
            print(stopped.stdout, stopped.stderr)
            stack.supervisor.wait(timeout=30)
            supervisor_log.close()
            leftovers = [name for name, pgid in groups.items() if group_alive(pgid)]
            local_pg.stop(pg_root)
            print("time to recover (s):", stack.recovered)
            assert not list(run_dir.glob("*.pid")), "make stop leaves no pid file behind"
            assert leftovers == [], f"process groups of the stack outlived `supervise stop`: {leftovers}"


def _recovered(stack: Stack, fault: str, since: float, record_property) -> None:
    seconds = round(time.monotonic() - since, 1)
    stack.recovered[fault] = seconds
    record_property(f"recover_seconds_{fault}", seconds)
    print(f"{fault}: recovered in {seconds} s")


def test_triggerer_killed(stack, record_property):
    old = stack.pid("triggerer")
    os.kill(old, signal.SIGKILL)
    started = time.monotonic()
    source = stack.deliver("grid_events", 2)
    stack.wait_for("grid_events scale 2 published", stack.loaded_once_and_published("grid_events", "grid_events-2"
                                                                                    + source.suffix))
    _recovered(stack, "triggerer_killed", started, record_property)
    assert stack.pid("triggerer") != old and "triggerer exited with signal SIGKILL" in stack.log("supervisor")
    assert (stack.log_dir / "triggerer.log.1").stat().st_size > 0, "the dead triggerer's log was kept"
    stack.assert_truthful()


def test_ingest_killed_during_copy(stack, record_property):
    source = stack.deliver("service_transactions", 10)

    def copying_task() -> int | None:
        active = stack.query("select count(*) from pg_stat_activity where datname = current_database() "
                             "and state = 'active' and query ilike 'copy %%service_transactions%%from stdin%%'")[0][0]
        if not active:
            return None
        ids = [str(r[0]) for r in stack.metadata(
            "select id from task_instance where dag_id = 'ingest_service_transactions' and state = 'running'")]
        # The task runner is titled "airflow worker -- <ti id>"; its parent, the executor's worker
        # that supervises it, "airflow worker -- LocalExecutor: <ti id>".
        titles = {f"airflow worker -- {i}" for i in ids}
        return next((pid for pid, argv in processes() if " ".join(argv).strip() in titles), None)

    runner = stack.wait_for("the ingest's COPY", copying_task, 180, poll=0.05)
    os.kill(runner, signal.SIGKILL)
    started = time.monotonic()
    stack.wait_for("service_transactions scale 10 published",
                   stack.loaded_once_and_published("service_transactions", "service_transactions-10" + source.suffix))
    _recovered(stack, "ingest_killed_during_copy", started, record_property)
    [(rows_in, loaded, rejected)] = stack.query(
        "select rows_in, rows_loaded, rows_rejected from audit.ingestion_batches where file_name = %s",
        "service_transactions-10" + source.suffix)
    assert rows_in >= 100_000 and (loaded, rejected) == (rows_in, 0)
    stack.assert_truthful()


def test_build_task_killed(stack, record_property):
    source = stack.deliver("mediation_cases", 2)
    dbt = stack.wait_for("dbt build", lambda: dbt_build_pid(stack.var_dir), 180, poll=0.1)
    task = parent_of(dbt)
    os.kill(task, signal.SIGKILL)
    started = time.monotonic()
    deadline = time.monotonic() + 5
    while alive(dbt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(dbt), "dbt outlived the build task that started it"
    stack.wait_for("mediation_cases scale 2 published",
                   stack.loaded_once_and_published("mediation_cases", "mediation_cases-2" + source.suffix))
    _recovered(stack, "build_task_killed", started, record_property)
    interrupted = stack.query("select message from audit.publications where outcome = 'failed' "
                              "and message like 'interrupted:%%'")
    assert interrupted, "the killed attempt is recorded failed by the retry"
    stack.assert_truthful()


def test_dbt_killed(stack, record_property):
    source = stack.deliver("grid_events", 3)
    dbt = stack.wait_for("dbt build", lambda: dbt_build_pid(stack.var_dir), 180, poll=0.1)
    time.sleep(1)
    os.kill(dbt, signal.SIGKILL)
    started = time.monotonic()
    stack.wait_for("grid_events scale 3 published",
                   stack.loaded_once_and_published("grid_events", "grid_events-3" + source.suffix))
    _recovered(stack, "dbt_killed", started, record_property)
    failed = stack.query("select message from audit.publications where outcome = 'failed' and message like '%%SIGKILL%%'")
    assert failed, "the killed dbt is a failed attempt, with the reason"
    stack.assert_truthful()


def test_postgres_restart(stack, record_property):
    port = int((stack.pg_root / "port").read_text())
    local_pg.stop(stack.pg_root)
    stopped = time.monotonic()
    time.sleep(6)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(local_pg, "DEFAULT_PORT", port)  # back on its port (the launcher takes the first free one)
        local_pg.start(stack.pg_root)
    assert local_pg.dsn(stack.pg_root) == stack.warehouse, "the restarted server kept its port"
    source = stack.deliver("mediation_cases", 3)
    stack.wait_for("mediation_cases scale 3 published",
                   stack.loaded_once_and_published("mediation_cases", "mediation_cases-3" + source.suffix))
    _recovered(stack, "postgres_restart", stopped, record_property)
    stack.wait_for("all components healthy again", lambda: _healthy(stack), 120)
    stack.assert_truthful()


def _healthy(stack: Stack) -> bool:
    try:
        wait_healthy(stack.env["AIRFLOW__API__BASE_URL"], timeout=5)
    except TimeoutError:
        return False
    return True
