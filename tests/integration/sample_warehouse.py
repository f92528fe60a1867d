"""A warehouse loaded with the generated scale-1 sample and published once, cloned per module.

Generating, loading and publishing the sample takes ~45 s; ten modules need it, each to change
it their own way. So it is built once per session (`sample_template`, tests/conftest.py) and
each module gets a clone (`create database … template`, under a second) with a copy of the
template's files (sample feeds, archive, reports): modules stay isolated from each other.
"""
from __future__ import annotations

import copy
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import create_database, drop_database

PII_TEST_KEY = "test-key-not-secret"


@dataclass
class SampleWarehouse:
    dsn: str
    work: Path
    files: dict[str, Path]
    publication: dict


def _environment(env: pytest.MonkeyPatch, dsn: str, var_dir: Path, work: Path) -> None:
    env.setenv("WAREHOUSE_DSN", dsn)
    env.setenv("GOV_VAR_DIR", str(var_dir))
    env.setenv("LANDING_URI", str(work / "landing"))
    env.setenv("ARCHIVE_DIR", str(work / "archive"))
    env.setenv("REPORTS_DIR", str(work / "reports"))
    env.setenv("PII_HMAC_KEY", PII_TEST_KEY)


def build_sample_template(server_dsn: str, var_dir: Path, work: Path) -> Iterator[SampleWarehouse]:
    """Create a database, load all feeds of the sample, build and publish; drop it afterwards."""
    from ingestion.generate import generate_sample
    from ingestion.load import load_file
    from warehouse.bootstrap import bootstrap
    from warehouse.publication import build_and_publish

    dsn = create_database(server_dsn, "gov_sample")
    try:
        with pytest.MonkeyPatch.context() as env:
            _environment(env, dsn, var_dir, work)
            bootstrap(dsn)
            files = generate_sample(work / "sample", scale=1, seed=2021)
            for feed_id, path in files.items():
                load_file(feed_id, path, dsn=dsn)
            publication = build_and_publish("gov-sample", dsn=dsn)
        yield SampleWarehouse(dsn=dsn, work=work, files=files, publication=publication)
    finally:
        drop_database(server_dsn, dsn)


def published_sample(server_dsn: str, var_dir: Path, work: Path, prefix: str,
                     template: SampleWarehouse) -> Iterator[SampleWarehouse]:
    """A clone of the published sample for one module (its own database and files); dropped afterwards."""
    from warehouse.bootstrap import bootstrap
    from warehouse.build import target_dir
    from warehouse.credentials import login_dsn

    dsn = _clone(server_dsn, template.dsn, prefix)
    try:
        shutil.copytree(template.work, work, dirs_exist_ok=True)
        files = {feed: work / path.relative_to(template.work) for feed, path in template.files.items()}
        with pytest.MonkeyPatch.context() as env:
            _environment(env, dsn, var_dir, work)
            # A clone keeps the schema but not the database's own grants and settings (revoked
            # public connect, jit off): the core DDL applies them again.
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("delete from audit.bootstrap_state where unit = 'core'")
            bootstrap(dsn)
            # dbt's folder of the template's builds (its saved project graph makes the next build partial)
            shutil.copytree(target_dir(login_dsn(template.dsn, "transform")), target_dir(login_dsn(dsn, "transform")))
            yield SampleWarehouse(dsn=dsn, work=work, files=files, publication=copy.deepcopy(template.publication))
    finally:
        drop_database(server_dsn, dsn)


def _clone(server_dsn: str, template_dsn: str, prefix: str) -> str:
    """A new database copied from the template (no session may be open on it)."""
    from warehouse.db import with_database

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    source = psycopg.conninfo.conninfo_to_dict(template_dsn)["dbname"]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (source,))
        conn.execute(f'create database "{name}" template "{source}"')
    return with_database(server_dsn, name)
