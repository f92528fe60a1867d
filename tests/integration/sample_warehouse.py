"""A warehouse loaded with the generated scale-1 sample and published once (module fixtures)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import create_database, drop_database

PII_TEST_KEY = "test-key-not-secret"


@dataclass
class SampleWarehouse:
    dsn: str
    work: Path
    files: dict[str, Path]
    publication: dict


def published_sample(server_dsn: str, var_dir: Path, work: Path, prefix: str) -> Iterator[SampleWarehouse]:
    """Create a database, load all feeds of the sample, build and publish; drop it afterwards."""
    from ingestion.generate import generate_sample
    from ingestion.load import load_file
    from warehouse.bootstrap import bootstrap
    from warehouse.publication import build_and_publish

    dsn = create_database(server_dsn, prefix)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAREHOUSE_DSN", dsn)
        env.setenv("GOV_VAR_DIR", str(var_dir))
        env.setenv("LANDING_URI", str(work / "landing"))
        env.setenv("ARCHIVE_DIR", str(work / "archive"))
        env.setenv("REPORTS_DIR", str(work / "reports"))
        env.setenv("PII_HMAC_KEY", PII_TEST_KEY)
        try:
            bootstrap(dsn)
            files = generate_sample(work / "sample", scale=1, seed=2021)
            for feed_id, path in files.items():
                load_file(feed_id, path, dsn=dsn)
            publication = build_and_publish(f"{prefix}-sample", dsn=dsn)
            yield SampleWarehouse(dsn=dsn, work=work, files=files, publication=publication)
        finally:
            drop_database(server_dsn, dsn)
