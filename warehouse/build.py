"""Run dbt against the warehouse, in a subprocess, and read back what it did.

A subprocess keeps dbt's global state and logging out of the caller (an Airflow task,
the CLI, a test). The target path is per database so partial parsing is reused between
runs on the same warehouse but never shared between two warehouses.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
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

    @property
    def ok(self) -> bool:
        return self.returncode == 0


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
                               f"-c gov.pii_hmac_opad={pads['PII_HMAC_OPAD']}"]).strip(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "DBT_PROJECT_DIR": str(DBT_PROJECT),
    })
    return env


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
    """Run `dbt <args>` on the given warehouse; never raises on dbt failure."""
    work = target_dir(dsn)
    work.mkdir(parents=True, exist_ok=True)
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt), *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
               "--vars", json.dumps(dbt_vars(candidate_schema)), "--no-use-colors"]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=DBT_PROJECT, env=dbt_env(dsn), capture_output=True, text=True)
    result = DbtResult(command=command, returncode=proc.returncode, seconds=round(time.perf_counter() - started, 2),
                       log_tail=(proc.stdout + proc.stderr)[-6000:])
    run_results = work / "target" / "run_results.json"
    if run_results.exists() and run_results.stat().st_mtime >= time.time() - result.seconds - 5:
        result.results = json.loads(run_results.read_text()).get("results", [])
    return result
