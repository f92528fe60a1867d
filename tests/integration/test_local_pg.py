"""The embedded default: a server from the wheel, owned by the launcher, reused, stopped."""
from __future__ import annotations

import psycopg

from infra import local_pg
from warehouse.bootstrap import bootstrap


def test_embedded_server_starts_bootstraps_and_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(local_pg, "DEFAULT_PORT", 56432)  # never collide with a developer's `make demo`
    root = tmp_path / "pg"
    dsn = local_pg.start(root)
    try:
        assert dsn.startswith("postgresql://postgres@127.0.0.1:")
        assert local_pg.start(root) == dsn  # idempotent: reused, not restarted
        bootstrap(dsn)
        with psycopg.connect(dsn) as conn:
            version = conn.execute("show server_version_num").fetchone()[0]
            schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        assert int(version) >= 180000
        assert {"raw", "audit", "marts"} <= schemas
        with psycopg.connect(local_pg.dsn(root, "airflow")) as conn:  # Airflow's metadata database exists
            assert conn.execute("select current_database()").fetchone()[0] == "airflow"
    finally:
        assert local_pg.stop(root) is True
    assert local_pg.stop(root) is False
