"""End to end: a file dropped in the landing zone flows to published marts by itself.

Starts a real Airflow (api-server first, then scheduler, dag-processor, triggerer)
as subprocesses on free ports, with a temp AIRFLOW_HOME, a fresh metadata database
and a fresh warehouse database; drops the generated party_organizations workbook
into the landing folder and waits for the publication. Everything is stopped in
the fixture teardown, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.airflow_env import wait_healthy
from tests.airflow.probes import metadata, wait_for

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
PARTY_KPIS = {
    "street_working_committees": 13,
    "community_regional_party_committees": 123,
    "compound_party_branches": 1391,
    "party_member_responsibility_areas": 4284,
}
PUBLISH_TIMEOUT = 240


class AirflowStack:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.url = env["AIRFLOW__API__BASE_URL"]
        self.procs: dict[str, subprocess.Popen] = {}
        self.healthy_seconds = 0.0

    def start(self, name: str) -> None:
        args = [str(AIRFLOW_BIN), name]
        if name == "api-server":
            args += ["--host", "127.0.0.1", "--port", self.env["AIRFLOW__API__PORT"]]
        if name in ("scheduler", "triggerer"):
            args.append("--skip-serve-logs")  # as `make airflow`: no log server on every interface
        log = (self.log_dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            args, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def assert_running(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}"

    def memory_mb(self) -> dict[str, tuple[float, float]]:
        """(PSS, RSS) in MB of each component's process group."""
        groups = {proc.pid: name for name, proc in self.procs.items()}
        usage = {name: [0.0, 0.0] for name in self.procs}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                name = groups.get(os.getpgid(int(entry.name)))
                if name is None:
                    continue
                for line in (entry / "smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        usage[name][0] += int(line.split()[1]) / 1024
                    elif line.startswith("Rss:"):
                        usage[name][1] += int(line.split()[1]) / 1024
            except (OSError, ProcessLookupError):
                continue
        return {name: (round(pss), round(rss)) for name, (pss, rss) in usage.items()}

    def stop(self) -> None:
        """TERM the scheduler, dag-processor and triggerer, then the api-server they report to."""
        started = time.monotonic()
        api = {"api-server"} & set(self.procs)
        for batch in ([n for n in self.procs if n not in api], list(api)):
            for name in batch:
                if self.procs[name].poll() is None:
                    with _suppress_lookup():
                        os.killpg(self.procs[name].pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            for name in batch:
                proc = self.procs[name]
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                    print(f"{name} stopped after {time.monotonic() - started:.1f} s")
                except subprocess.TimeoutExpired:
                    print(f"{name} still running after {time.monotonic() - started:.1f} s: killed")
                with _suppress_lookup():
                    os.killpg(proc.pid, signal.SIGKILL)  # leftover task/worker children of the group
                proc.wait(timeout=10)


class _suppress_lookup:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is not None and issubclass(exc_type, (ProcessLookupError, PermissionError))


@pytest.fixture
def airflow_stack(warehouse_dsn, make_airflow_env, migrate, tmp_path) -> Iterator[AirflowStack]:
    env = make_airflow_env()
    print(f"\nairflow db migrate: {migrate(env):.1f} s")
    log_dir = tmp_path / "airflow_logs"
    log_dir.mkdir()
    stack = AirflowStack(env, log_dir)
    try:
        started = time.monotonic()
        stack.start("api-server")  # first: the others talk to its execution API
        wait_healthy(stack.url, timeout=90, components=())
        for name in COMPONENTS[1:]:
            stack.start(name)
        wait_healthy(stack.url, timeout=120)
        stack.healthy_seconds = time.monotonic() - started
        print(f"stack healthy after {stack.healthy_seconds:.1f} s (api-server first, then the other three)")
        yield stack
    finally:
        stack.stop()
        for name in COMPONENTS:
            if "Traceback" in stack.log(name):
                print(f"--- {name} log (tail) ---\n{stack.log(name)[-2000:]}")


def _wait_for(what: str, probe, timeout: float, stack: AirflowStack, poll: float = 1.0):
    return wait_for(what, probe, timeout, stack, COMPONENTS, poll, tail=2500)


def _timeline(env: dict[str, str], since: float) -> list[str]:
    """DAG runs queued after `since` (epoch seconds), as offsets from it: where the time goes."""
    rows = metadata(
        env,
        "select dag_id, run_type, extract(epoch from queued_at), extract(epoch from start_date), "
        "extract(epoch from end_date), state from dag_run where queued_at >= to_timestamp(%s) order by queued_at",
        since - 1,
    )

    def offset(value) -> str:
        return "-" if value is None else f"{float(value) - since:+.1f}s"

    return [
        f"{dag} ({kind}): queued {offset(q)} started {offset(s)} ended {offset(e)} {state}"
        for dag, kind, q, s, e, state in rows
    ]


def _deliver(source: Path, folder: Path) -> float:
    """Deliver like a department should: write `name.part`, then rename. Returns the drop time."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{source.name}.part"
    shutil.copyfile(source, partial)
    dropped = time.monotonic()
    partial.rename(folder / source.name)
    return dropped


@pytest.mark.e2e
def test_dropped_file_is_published_by_airflow(airflow_stack, warehouse_dsn, tmp_path, record_property):
    from ingestion.generate import generate_sample

    stack = airflow_stack
    sample = generate_sample(tmp_path / "incoming", feeds=["party_organizations"])["party_organizations"]
    landing = Path(stack.env["LANDING_URI"]) / "party_organizations"

    # The watcher runs once the DAGs are parsed and the triggerer has picked it up.
    _wait_for(
        "the landing watcher",
        lambda: f"Watching {landing.resolve()}" in stack.log("triggerer"),
        90,
        stack,
        poll=0.5,
    )
    # ... and after the landing_sweep run made on its first parse, so the measurement
    # below is the event path on an idle stack. The sweep found nothing: it woke no ingest DAG.
    _wait_for(
        "the startup sweep to finish",
        lambda: (
            metadata(stack.env, "select count(*) from dag_run where dag_id = 'landing_sweep'")[0][0] >= 1
            and metadata(stack.env, "select count(*) from dag_run where state in ('queued', 'running')")[0][0] == 0
        ),
        120,
        stack,
    )
    assert metadata(stack.env, "select count(*) from dag_run where dag_id like 'ingest_%%'")[0][0] == 0
    memory = stack.memory_mb()
    print("idle memory (PSS, RSS MB):", memory, "total PSS", sum(p for p, _ in memory.values()))

    dropped, dropped_at = _deliver(sample, landing), time.time()

    def published():
        with psycopg.connect(warehouse_dsn) as conn:
            outcomes = dict(conn.execute("select outcome, message from audit.publications").fetchall())
            assert "blocked" not in outcomes, f"the publication was blocked: {outcomes['blocked']}"
            if "published" not in outcomes:
                return None
            return dict(conn.execute("select kpi_code, kpi_value from marts.governance_kpis").fetchall())

    kpis = _wait_for("a published publication", published, PUBLISH_TIMEOUT, stack, poll=0.5)
    seconds = time.monotonic() - dropped
    print(f"drop-to-published: {seconds:.1f} s")
    print("\n".join(_timeline(stack.env, dropped_at)))
    record_property("drop_to_published_seconds", round(seconds, 1))
    record_property("stack_healthy_seconds", round(stack.healthy_seconds, 1))
    assert {code: float(kpis[code]) for code in PARTY_KPIS} == PARTY_KPIS

    with psycopg.connect(warehouse_dsn) as conn:
        loaded = conn.execute(
            "select batch_id, sha256 from audit.ingestion_batches where status <> 'duplicate'"
        ).fetchall()
    assert len(loaded) == 1, loaded

    # The same file delivered again: recorded as a duplicate delivery, never loaded twice.
    _deliver(sample, landing)

    def duplicate_recorded():
        with psycopg.connect(warehouse_dsn) as conn:
            return conn.execute(
                "select count(*) from audit.ingestion_batches where status = 'duplicate' and duplicate_of = %s",
                (loaded[0][0],),
            ).fetchone()[0]

    _wait_for("the second delivery to be recorded", duplicate_recorded, 90, stack, poll=0.5)
    time.sleep(3)  # time for a (wrong) second build to start, if the skip did not hold
    with psycopg.connect(warehouse_dsn) as conn:
        assert (
            conn.execute("select count(*) from audit.ingestion_batches where status <> 'duplicate'").fetchone()[0] == 1
        )
        assert conn.execute("select count(*) from audit.publications").fetchone()[0] == 1
    assert [p for p in landing.rglob("*") if p.is_file()] == [], "every delivery was taken and archived"

    # A department's system announcing a delivery through the REST API wakes the ingest DAG
    # (README: POST /auth/token, then POST /api/v2/assets/events); nothing new -> skipped.
    posted_at = time.time()
    token = _api(stack, "POST", "/auth/token", {"username": "admin", "password": _admin_password(stack)})
    bearer = token["access_token"]
    [asset] = _api(stack, "GET", "/api/v2/assets?name_pattern=landing/party_organizations", token=bearer)["assets"]
    event = _api(stack, "POST", "/api/v2/assets/events", {"asset_id": asset["id"], "extra": {"sender": "e2e"}}, bearer)
    assert event["extra"] == {"sender": "e2e", "from_rest_api": True}

    def rest_run_finished():
        return metadata(
            stack.env,
            "select count(*) from dag_run where dag_id = 'ingest_party_organizations' and run_type = 'asset_triggered' "
            "and queued_at >= to_timestamp(%s) and state = 'success'",
            posted_at - 1,
        )[0][0]

    _wait_for("the ingest run woken by the REST event", rest_run_finished, 90, stack, poll=0.5)
    print(f"REST event to finished ingest run: {time.time() - posted_at:.1f} s")


def _admin_password(stack: AirflowStack) -> str:
    import json

    return json.loads(Path(stack.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())["admin"]


def _api(stack: AirflowStack, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(
        stack.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)
