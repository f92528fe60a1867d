"""One published sample warehouse shared by the BI tests (row security, Superset smoke test)."""
from __future__ import annotations

import pytest

from tests.integration.sample_warehouse import published_sample


@pytest.fixture(scope="session")
def bi_sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("bi"), "gov_bi", sample_template)
