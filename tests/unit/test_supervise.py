"""infra/supervise.py with real processes: restart on exit, logs kept, whole sessions stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from infra.supervise import group_alive, rotate, truncate_if_large

REPO_ROOT = Path(__file__).resolve().parents[2]


def _wait(probe, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s")


def test_restarts_a_killed_component_keeps_its_log_and_stops_whole_groups(tmp_path):
    run_dir, log_dir = tmp_path / "run", tmp_path / "logs"
    # A component with a child of its own, and one in a process group of its own (as Airflow's task
    # runners are): both must end with the component.
    worker = (f"{sys.executable} -c \"import subprocess, time; subprocess.Popen(['sleep', '300']); "
              "detached = subprocess.Popen(['sleep', '301'], process_group=0); "
              "print('up', detached.pid, flush=True); time.sleep(300)\"")
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "infra.supervise", "run", "--run-dir", str(run_dir), "--log-dir", str(log_dir),
         "--grace", "5", "--component", f"worker={worker}"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        first = _wait(lambda: (run_dir / "worker.pid").exists() and int((run_dir / "worker.pid").read_text()))
        detached = _wait(lambda: _detached_child(log_dir / "worker.log"))
        assert _alive(detached) and os.getpgid(detached) != first
        os.kill(first, signal.SIGKILL)
        second = _wait(lambda: (pid := int((run_dir / "worker.pid").read_text())) != first and pid)
        assert _wait(lambda: not group_alive(first)), "the dead component's children were ended with it"
        assert _wait(lambda: not _alive(detached)), "its child in another process group was ended too"
        detached_second = _wait(lambda: _detached_child(log_dir / "worker.log"))
        assert (log_dir / "worker.log.1").read_text().startswith("up "), "the previous log is kept, not overwritten"

        # `stop` as after a killed supervisor: the orphaned component group is still ended.
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
        assert group_alive(second)
        stopped = subprocess.run([sys.executable, "-m", "infra.supervise", "stop", "--run-dir", str(run_dir),
                                  "--grace", "5"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert stopped.returncode == 0 and "stopped worker" in stopped.stdout, stopped.stdout + stopped.stderr
        assert not group_alive(second)
        assert not _alive(detached_second), "stop ends the detached child of the orphaned component too"
        assert list(run_dir.glob("*.pid")) == []
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        output = supervisor.communicate(timeout=10)[0]
    assert "worker exited with signal SIGKILL" in output and "restart 1 in 1 s" in output


def _detached_child(log: Path) -> int | None:
    text = log.read_text() if log.exists() else ""
    return int(text.split()[1]) if text.startswith("up ") and len(text.split()) > 1 else None


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_logs_rotate_and_oversized_logs_are_truncated_in_place(tmp_path):
    log = tmp_path / "c.log"
    for generation in range(7):
        log.write_text(f"run {generation}\n")
        rotate(log, keep=3)
    assert not log.exists()
    assert [(tmp_path / f"c.log.{i}").read_text() for i in (1, 2, 3)] == ["run 6\n", "run 5\n", "run 4\n"]
    assert not (tmp_path / "c.log.4").exists()

    with log.open("ab") as appender:  # a running component appends to it
        appender.write(b"x" * 2000)
        appender.flush()
        truncate_if_large(log, limit=1000, keep=3)
        appender.write(b"after\n")
    assert log.read_bytes() == b"after\n"
    assert (tmp_path / "c.log.1").read_bytes() == b"x" * 2000
