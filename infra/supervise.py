"""Keep a set of local processes running: restart on exit with backoff, rotate their logs.

`make airflow` runs the four Airflow components under this supervisor, so a component
that exits (killed, or given up after a PostgreSQL restart) comes back by itself:

    python -m infra.supervise --run-dir var/airflow/run --log-dir var/airflow/logs \\
        --component 'api-server=airflow api-server --host 127.0.0.1 --port 8080' \\
        --after-port 8080 --component 'scheduler=airflow scheduler' ...

- Each component runs in a session of its own (session and process group id = its pid,
  written to <run-dir>/<name>.pid). Stopping it, or its death, ends every process of that
  session: its workers and task processes too, also those that moved to a process group of
  their own (Airflow's task runners do, so a kill of the group alone would leave a task
  running without its worker). A stop after the supervisor itself was killed still finds
  the orphans (`stop`).
- Output goes to <log-dir>/<name>.log. Every (re)start keeps the previous log as
  <name>.log.1 … .<KEEP>; a log above MAX_LOG_BYTES is copied to .1 and truncated in
  place (the component writes with O_APPEND), so why a component died is never lost.
- Backoff: 1 s, doubled per quick exit, at most 60 s; reset once a run lasted 60 s.
- `--after-port PORT`: components listed after it start once 127.0.0.1:PORT accepts
  connections (the api-server first: the others call its execution API).
- SIGTERM/SIGINT: TERM every component group (the last-listed first), KILL what still
  runs after the grace period, remove the pid files, exit 0.

    python -m infra.supervise stop --run-dir DIR [--grace 30]
        TERM the supervisor, then any component group still alive (orphans), then KILL.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

KEEP = 5
MAX_LOG_BYTES = 50 * 1024 * 1024
BACKOFF_START, BACKOFF_MAX, STABLE_AFTER = 1.0, 60.0, 60.0
SUPERVISOR = "supervisor"


@dataclass
class Component:
    name: str
    argv: list[str]
    wait_for_port: int | None = None
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_START
    next_start: float = 0.0
    restarts: int = 0
    log_handle: object | None = field(default=None, repr=False)


def rotate(log: Path, keep: int = KEEP) -> None:
    """<name>.log -> .1 -> .2 … (the oldest beyond `keep` dropped)."""
    if not log.exists():
        return
    for index in range(keep - 1, 0, -1):
        older = log.with_name(f"{log.name}.{index}")
        if older.exists():
            older.replace(log.with_name(f"{log.name}.{index + 1}"))
    log.replace(log.with_name(f"{log.name}.1"))


def truncate_if_large(log: Path, limit: int = MAX_LOG_BYTES, keep: int = KEEP) -> None:
    """Copy an oversized log that a running process appends to into .1, then truncate it."""
    try:
        if log.stat().st_size <= limit:
            return
    except FileNotFoundError:
        return
    for index in range(keep - 1, 0, -1):
        older = log.with_name(f"{log.name}.{index}")
        if older.exists():
            older.replace(log.with_name(f"{log.name}.{index + 1}"))
    shutil.copyfile(log, log.with_name(f"{log.name}.1"))
    os.truncate(log, 0)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`, whatever their process group (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, _pgrp, session = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:4]
        except (OSError, ValueError):
            continue
        if int(session) == sid and state != "Z":
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """Any process left of the component started as session/group `pgid` (its session, where /proc exists)."""
    if Path("/proc/self/stat").exists():
        return bool(session_members(pgid))
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    """Signal the component's process group and every other process of its session."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    if Path("/proc/self/stat").exists():
        for pid in session_members(pgid):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def kill_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGKILL a component's processes and wait until the last is gone (reaped), up to `timeout`."""
    signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
        signal_group(pgid, signal.SIGKILL)  # a member forked meanwhile


class Supervisor:
    def __init__(self, components: list[Component], run_dir: Path, log_dir: Path, grace: float) -> None:
        self.components = components
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.grace = grace
        self.stopping = False

    def note(self, message: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} supervise: {message}", flush=True)

    def start(self, component: Component) -> None:
        log = self.log_dir / f"{component.name}.log"
        rotate(log)
        if component.log_handle is not None:
            component.log_handle.close()
        component.log_handle = log.open("ab")
        component.proc = subprocess.Popen(
            component.argv, stdout=component.log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        component.started_at = time.monotonic()
        (self.run_dir / f"{component.name}.pid").write_text(str(component.proc.pid))
        self.note(f"started {component.name} (pid {component.proc.pid})")

    def ready(self, component: Component) -> bool:
        """A component waits for the port of the one it depends on (e.g. the api-server)."""
        return component.wait_for_port is None or port_open(component.wait_for_port)

    def run(self) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / f"{SUPERVISOR}.pid").write_text(str(os.getpid()))
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        last_size_check = 0.0
        while not self.stopping:
            now = time.monotonic()
            for component in self.components:
                if component.proc is not None and component.proc.poll() is not None:
                    self._exited(component, now)
                if component.proc is None and now >= component.next_start and self.ready(component):
                    self.start(component)
            if now - last_size_check > 30:
                last_size_check = now
                for component in self.components:
                    truncate_if_large(self.log_dir / f"{component.name}.log")
            time.sleep(0.5)
        self.stop_all()
        return 0

    def _exited(self, component: Component, now: float) -> None:
        ran = now - component.started_at
        code = component.proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() else f"code {code}"
        kill_group(component.proc.pid, timeout=5)  # its workers, servers and task runners leave with it
        component.proc = None
        if ran >= STABLE_AFTER:
            component.backoff = BACKOFF_START
        delay = component.backoff
        component.backoff = min(component.backoff * 2, BACKOFF_MAX)
        component.next_start = now + delay
        component.restarts += 1
        self.note(f"{component.name} exited with {how} after {ran:.0f} s; restart {component.restarts} "
                  f"in {delay:.0f} s (previous log: {component.name}.log.1)")

    def _request_stop(self, signum, frame) -> None:  # noqa: ANN001 - signal handler signature
        self.stopping = True

    def stop_all(self) -> None:
        running = [c for c in reversed(self.components) if c.proc is not None]
        for component in running:
            signal_group(component.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for component in running:
            try:
                component.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                self.note(f"stopped {component.name}")
            except subprocess.TimeoutExpired:
                self.note(f"{component.name} still running after {self.grace:.0f} s: killed")
            signal_group(component.proc.pid, signal.SIGKILL)  # what is left of its group
            component.proc.wait(timeout=10)
            kill_group(component.proc.pid)
        for component in self.components:
            (self.run_dir / f"{component.name}.pid").unlink(missing_ok=True)
        (self.run_dir / f"{SUPERVISOR}.pid").unlink(missing_ok=True)


def stop(run_dir: Path, grace: float = 30.0) -> list[str]:
    """Stop a supervisor and every component group it left behind; what was stopped, by name."""
    stopped = []
    supervisor = run_dir / f"{SUPERVISOR}.pid"
    if supervisor.exists():
        pid = int(supervisor.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace + 15
            while time.monotonic() < deadline and _pid_alive(pid):
                time.sleep(0.2)
            stopped.append(SUPERVISOR)
        except ProcessLookupError:
            pass
        supervisor.unlink(missing_ok=True)
    orphans = {p.stem: int(p.read_text()) for p in run_dir.glob("*.pid") if p.read_text().strip().isdigit()}
    for pgid in orphans.values():
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, pgid in orphans.items():
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        kill_group(pgid)
        stopped.append(name)
        (run_dir / f"{name}.pid").unlink(missing_ok=True)
    return stopped


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by whoever started it) is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def parse_components(values: list[tuple[str, str]]) -> list[Component]:
    components: list[Component] = []
    wait_for: int | None = None
    for kind, value in values:
        if kind == "after_port":
            wait_for = int(value)
            continue
        name, _, command = value.partition("=")
        if not name or not command:
            raise SystemExit(f"--component wants NAME=COMMAND, got {value!r}")
        components.append(Component(name=name, argv=shlex.split(command), wait_for_port=wait_for))
    return components


class _Ordered(argparse.Action):
    """Keep --component and --after-port in the order given."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        items = list(getattr(namespace, "ordered", None) or [])
        items.append((self.dest, values))
        namespace.ordered = items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.supervise", description=__doc__.split("\n")[0])
    parser.add_argument("action", nargs="?", choices=["run", "stop"], default="run")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--log-dir", type=Path)
    parser.add_argument("--grace", type=float, default=30.0, help="seconds between TERM and KILL")
    parser.add_argument("--component", dest="component", action=_Ordered, help="NAME=COMMAND (repeatable)")
    parser.add_argument("--after-port", dest="after_port", action=_Ordered,
                        help="the components listed after this start once 127.0.0.1:PORT answers")
    args = parser.parse_args(argv)
    if args.action == "stop":
        for name in stop(args.run_dir, args.grace):
            print(f"stopped {name}")
        return 0
    components = parse_components(getattr(args, "ordered", None) or [])
    if not components or args.log_dir is None:
        parser.error("run needs --log-dir and at least one --component")
    return Supervisor(components, args.run_dir, args.log_dir, args.grace).run()


if __name__ == "__main__":
    sys.exit(main())
