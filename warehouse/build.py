"""Run dbt against the warehouse, in a subprocess, and read back what it did.

A subprocess keeps dbt's global state and logging out of the caller (an Airflow task,
the CLI, a test). The target path is per database so partial parsing is reused between
runs on the same warehouse but never shared between two warehouses.

dbt never outlives its caller: it runs in a process group of its own, is killed by the
kernel when the caller dies (PR_SET_PDEATHSIG), and is killed and reaped before
`run_dbt` lets any exception through, so the build lock is never released while dbt
still runs. A failed run says whether the *infrastructure* failed (dbt killed, crashed,
out of memory, connection lost: retry) or the *data* did (a model or test failed: block).
"""
from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.credentials import login_dsn, passfile_of
from warehouse.db import dsn_parts
from warehouse.settings import REPO_ROOT, get_settings

DBT_PROJECT = REPO_ROOT / "dbt_project"
CANDIDATE_SCHEMA = "marts_candidate"


@dataclass
class DbtResult:
    command: list[str]
    returncode: int
    seconds: float
    results: list[dict] = field(default_factory=list)
    log_tail: str = ""
    elapsed: float | None = None  # dbt's own time for the nodes (run_results.json), without start-up and parse

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def startup_seconds(self) -> float | None:
        """The fixed cost of one invocation: interpreter start, imports, parse, connection (wall - node time)."""
        return None if self.elapsed is None else round(max(self.seconds - self.elapsed, 0.0), 2)

    @property
    def infrastructure_failure(self) -> str | None:
        """Why the run failed for reasons that are not the data's, or None (success or a data failure)."""
        return infrastructure_failure(self)


def dbt_env(dsn: str) -> dict[str, str]:
    """dbt logs in as the transform login: password from the passfile (PGPASSFILE), group role
    and the PII key's pads as session settings in PGOPTIONS (libpq startup options: never in
    SQL text, compiled models, dbt's artifacts or its logs)."""
    login = login_dsn(dsn, "transform")
    parts = dsn_parts(login)
    env = {name: value for name, value in os.environ.items() if name not in _SECRET_ENV}
    pads = hmac_pads(get_settings().pii_key)
    env.update({
        "DBT_PG_HOST": parts["host"],
        "DBT_PG_PORT": parts["port"],
        "DBT_PG_USER": parts["user"],
        "DBT_PG_PASSWORD": "",
        "DBT_PG_DBNAME": parts["dbname"],
        "PGPASSFILE": str(passfile_of(login)),
        "PGOPTIONS": " ".join([parts["options"], f"-c gov.pii_hmac_ipad={pads['PII_HMAC_IPAD']}",
                               f"-c gov.pii_hmac_opad={pads['PII_HMAC_OPAD']}", NO_JIT]).strip(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "DBT_PROJECT_DIR": str(DBT_PROJECT),
    })
    return env


# No JIT compilation in dbt's sessions. A model's plan over partitioned facts with a union of
# joins is estimated far above jit_optimize_above_cost (row estimates of joins on the delta
# are off by orders of magnitude), and PostgreSQL then spends seconds to minutes inlining and
# optimising hundreds of functions for a query that runs in under a second: measured on the
# incremental summary case_resolution_rates_by_community_month at scale 10, 44.8 s with JIT
# (43.8 s of it compiling, 481 functions) against 0.8 s without. The results are the same.
NO_JIT = "-c jit=off"

_SECRET_ENV = ("PII_HMAC_KEY", "PII_HMAC_IPAD", "PII_HMAC_OPAD", "WAREHOUSE_DSN", "PGPASSWORD", "DBT_PG_PASSWORD")


def key_fingerprint(key: bytes) -> str:
    """Names the PII key without revealing it (HMAC of a constant): recorded per publication."""
    return hmac.new(key, b"pii-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def hmac_pads(key: bytes) -> dict[str, str]:
    """The inner and outer padded keys of HMAC-SHA256 (RFC 2104), hex, for dbt's person_key().

    PostgreSQL has sha256() built in but no HMAC without pgcrypto, which the embedded
    server lacks; with the pads, SQL computes exactly hmac.new(key, msg, sha256).
    """
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return {
        "PII_HMAC_IPAD": bytes(b ^ 0x36 for b in key).hex(),
        "PII_HMAC_OPAD": bytes(b ^ 0x5C for b in key).hex(),
    }


def target_dir(dsn: str) -> Path:
    key = hashlib.sha1(dsn.encode()).hexdigest()[:10]
    return get_settings().var_dir / "dbt" / f"{dsn_parts(dsn)['dbname']}-{key}"


def dbt_vars(candidate_schema: str = CANDIDATE_SCHEMA) -> dict[str, str]:
    """The vars every dbt command gets (part of the project fingerprint)."""
    return {"candidate_schema": candidate_schema}


def run_dbt(args: list[str], dsn: str, *, candidate_schema: str = CANDIDATE_SCHEMA) -> DbtResult:
    """Run `dbt <args>` on the given warehouse; never raises on dbt failure.

    Any exception in the caller while dbt runs (a task timeout, SIGTERM) first kills and
    reaps dbt, then propagates.
    """
    work = target_dir(dsn)
    work.mkdir(parents=True, exist_ok=True)
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt), *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
               "--vars", json.dumps(dbt_vars(candidate_schema)), "--no-use-colors"]
    env = dbt_env(dsn)
    # A server-side statement of a dbt that died is cancelled within seconds, not run to its end.
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c client_connection_check_interval=2000".strip()
    run_results = work / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)  # a killed dbt writes none: never read the previous run's
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=DBT_PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
                            preexec_fn=_die_with_parent(os.getpid()))
    try:
        output, _ = proc.communicate()
    except BaseException:
        _end_process_group(proc)
        raise
    result = DbtResult(command=command, returncode=proc.returncode, seconds=round(time.perf_counter() - started, 2),
                       log_tail=output[-6000:])
    if run_results.exists():
        written = json.loads(run_results.read_text())
        result.results = written.get("results", [])
        result.elapsed = written.get("elapsed_time")
    return result


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int):
    """A preexec_fn: the kernel sends the child SIGKILL when its parent dies (Linux; elsewhere a no-op)."""
    def arm() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent_pid:  # the parent died before the signal was armed
                os.kill(os.getpid(), signal.SIGKILL)
    return arm


def _end_process_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """TERM dbt's process group, KILL it after `grace` seconds, and reap it."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # helpers left in the group (dbt itself is reaped)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# Messages of lost connections, a server going away, or resources running out (psycopg2 / PostgreSQL).
_INFRASTRUCTURE_MESSAGES = (
    "could not connect to server", "connection to server", "server closed the connection",
    "terminating connection", "connection already closed", "could not receive data from server",
    "could not send data to server", "ssl syscall error", "connection refused", "connection timed out",
    "the database system is shutting down", "the database system is starting up",
    "the database system is in recovery mode", "out of memory", "no space left on device",
    "could not resize shared memory", "canceling statement due to conflict with recovery", "memoryerror",
)


def infrastructure_failure(result: DbtResult) -> str | None:
    """Tell a failure of the machinery from a failure of the data.

    dbt exits 0 on success, 1 when a model or test failed (the data, or the models), 2
    when it could not complete at all; a negative code is a signal (killed, OOM killer).
    An exit 1 whose errors are lost connections or exhausted resources is infrastructure too.
    """
    if result.returncode == 0:
        return None
    if result.returncode < 0:
        try:
            name = signal.Signals(-result.returncode).name
        except ValueError:
            name = f"signal {-result.returncode}"
        return f"dbt was killed by {name} (killed, or out of memory)"
    if result.returncode != 1 or not result.results:
        # dbt could not complete: a lost server is infrastructure; a project error (a model
        # that does not compile) is not, and would fail the same way on every retry.
        tail = result.log_tail.lower()
        if any(m in tail for m in _INFRASTRUCTURE_MESSAGES):
            return f"dbt could not complete (exit code {result.returncode}): {_last_line(result.log_tail)}"
        return None
    for node in result.results:
        message = (node.get("message") or "").lower()
        if node.get("status") == "error" and any(m in message for m in _INFRASTRUCTURE_MESSAGES):
            return f"dbt lost the database: {node.get('unique_id')}: {(node.get('message') or '').strip()[:300]}"
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
