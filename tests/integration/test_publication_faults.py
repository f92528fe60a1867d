"""Truthful publication states and a dbt that never outlives its build (real PostgreSQL, real dbt)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from ingestion.load import load_file
from tests.fixtures.party_files import GOOD_ROWS, write_party_workbook
from warehouse.build import DbtResult, infrastructure_failure
from warehouse.publication import InfrastructureFailure, build_and_publish


def test_interrupted_publication_is_marked_failed_on_the_next_start(db, warehouse_dsn):
    # Everything already published (so the next run has nothing to build) ...
    batch = db.execute("insert into audit.ingestion_batches (feed_id, file_name, sha256, file_bytes, status) "
                       "values ('party_organizations', 'x.xlsx', repeat('a', 64), 1, 'loaded') returning batch_id"
                       ).fetchone()[0]
    db.execute("insert into audit.publications (run_id, outcome, source_batches) values ('done', 'published', %s)",
               ([batch],))
    # ... and what a build killed with -9 leaves behind: a row still 'running', nobody holding the lock.
    stale = db.execute("insert into audit.publications (run_id) values ('killed-run') returning publication_id"
                       ).fetchone()[0]

    result = build_and_publish("next-run")

    assert result["outcome"] == "nothing_to_do"
    outcome, message, finished = db.execute(
        "select outcome, message, finished_at from audit.publications where publication_id = %s", (stale,)
    ).fetchone()
    assert outcome == "failed" and finished is not None
    assert "interrupted" in message and "next-run" in message
    assert db.execute("select count(*) from audit.publications where outcome = 'running'").fetchone()[0] == 0


def _dbt_processes(target_fragment: str) -> list[int]:
    """Pids of running dbt processes whose command line names this warehouse's target dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"/dbt") for part in cmdline[:2]) and target_fragment.encode() in b" ".join(cmdline):
            found.append(int(entry.name))
    return found


def test_killed_dbt_is_a_failure_that_is_retried_not_a_block(db, warehouse_dsn, tmp_path):
    from warehouse.build import target_dir
    from warehouse.credentials import login_dsn

    load_file("party_organizations", write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS))
    target = str(target_dir(login_dsn(warehouse_dsn, "transform")))  # dbt runs as the transform login
    killed: list[int] = []

    def kill_dbt_build() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for pid in _dbt_processes(target):
                if b"build" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                    time.sleep(1.0)  # let it connect and start working
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_dbt_build)
    killer.start()
    with pytest.raises(InfrastructureFailure, match="SIGKILL"):
        build_and_publish("attempt-1")
    killer.join()
    assert killed, "dbt build was never seen running"
    outcome, message = db.execute("select outcome, message from audit.publications where run_id = 'attempt-1'"
                                  ).fetchone()
    assert outcome == "failed" and "SIGKILL" in message, message
    assert db.execute("select count(*) from audit.publications where outcome = 'blocked'").fetchone()[0] == 0

    # The retry (what Airflow does after the exception) publishes.
    assert build_and_publish("attempt-2")["outcome"] == "published"


def test_dbt_dies_with_the_process_that_started_it(tmp_path):
    """kill -9 of the caller: the kernel kills the child it started through run_dbt's preexec_fn."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "from warehouse.build import _die_with_parent\n"
        "import os\n"
        "child = subprocess.Popen(['sleep', '300'], start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the parent never started its child"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child outlived its parent"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("returncode", "results", "log", "infrastructure"),
    [
        (-9, [], "", True),  # killed, or the OOM killer
        (2, [], "could not connect to server: Connection refused", True),
        (1, [{"unique_id": "model.g.m", "status": "error",
              "message": "Database Error in model m\n  server closed the connection unexpectedly"}], "", True),
        (1, [{"unique_id": "test.g.t", "status": "fail", "message": "Got 3 results"}], "", False),
        (1, [{"unique_id": "model.g.m", "status": "error",
              "message": "Database Error in model m\n  column \"x\" does not exist"}], "", False),
        (2, [], "Compilation Error in model m: unexpected '}'", False),
        (0, [], "", False),
    ],
)
def test_infrastructure_failures_are_told_from_data_failures(returncode, results, log, infrastructure):
    result = DbtResult(command=["dbt", "build"], returncode=returncode, seconds=1.0, results=results, log_tail=log)
    assert (infrastructure_failure(result) is not None) is infrastructure


def test_no_running_row_survives_a_lost_connection(db, warehouse_dsn, monkeypatch):
    """An exception inside the build (here: the database connection killed) records `failed`, then propagates."""
    import warehouse.publication as publication

    def lose_connection(conn, *args, **kwargs):
        with psycopg.connect(warehouse_dsn, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))
        conn.execute("select 1")

    monkeypatch.setattr(publication, "_prepare_candidate", lose_connection)
    with pytest.raises(psycopg.OperationalError):
        build_and_publish("lost", force=True)
    outcome, message = db.execute("select outcome, message from audit.publications where run_id = 'lost'").fetchone()
    assert outcome == "failed" and "terminating connection" in message


def test_unpublished_batches_are_reannounced_only_when_settled_and_not_blocked(db, warehouse_dsn):
    from warehouse.publication import feeds_awaiting_rebuild

    def batch(feed: str, minutes_ago: int) -> int:
        return db.execute(
            "insert into audit.ingestion_batches (feed_id, file_name, sha256, file_bytes, status, finished_at) "
            "values (%s, 'f', md5(random()::text) || md5(random()::text), 1, 'loaded', "
            "clock_timestamp() - make_interval(mins => %s)) returning batch_id", (feed, minutes_ago)).fetchone()[0]

    assert feeds_awaiting_rebuild() == []
    published = batch("grid_events", 30)
    db.execute("insert into audit.publications (run_id, outcome, source_batches) values ('p', 'published', %s)",
               ([published],))
    assert feeds_awaiting_rebuild() == [], "everything published"
    batch("grid_events", 1)
    assert feeds_awaiting_rebuild() == [], "a fresh batch has its own build on the way"
    batch("mediation_cases", 20)
    db.execute("update audit.ingestion_batches set finished_at = finished_at - interval '10 minutes' "
               "where batch_id > %s", (published,))
    db.execute("insert into audit.publications (run_id, outcome, message) values ('f', 'failed', 'dbt killed')")
    assert feeds_awaiting_rebuild() == ["grid_events", "mediation_cases"], "a build gave up: announce again"
    db.execute("insert into audit.publications (run_id, outcome) values ('b', 'blocked')")
    assert feeds_awaiting_rebuild() == [], "blocked data would be refused again"
