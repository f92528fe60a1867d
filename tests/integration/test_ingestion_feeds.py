"""All sixteen feeds of the generated sample load whole, nested JSON lands as usable jsonb."""
from __future__ import annotations

import pytest
from psycopg import sql

from ingestion.generate import generate_sample
from ingestion.load import load_file
from ingestion.registry import feed_ids


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, scale=1)
    return out


def test_every_feed_of_the_sample_loads_whole(db, sample_dir):
    files = {path.name.split(".")[0]: path for path in sample_dir.iterdir()}
    assert sorted(files) == feed_ids() and len(files) == 16
    for feed, path in sorted(files.items()):
        summary = load_file(feed, path)
        assert summary.status == "loaded", (feed, summary.message, summary.errors[:3])
        assert summary.rows_in == summary.rows_loaded > 0 and summary.rows_rejected == 0
        stored = db.execute(sql.SQL("select count(*) from {} where _batch_id = %s").format(
            sql.Identifier("raw", feed)), (summary.batch_id,)).fetchone()[0]
        assert stored == summary.rows_loaded
    parties, with_parties = db.execute(
        "select sum(jsonb_array_length(parties)), count(*) filter (where jsonb_array_length(parties) > 0) "
        "from raw.mediation_cases").fetchone()
    assert parties > with_parties > 0
    roles = db.execute("select count(distinct p->>'role') from raw.mediation_cases, "
                       "jsonb_array_elements(parties) p").fetchone()[0]
    assert roles >= 2
    levels = {r[0] for r in db.execute("select distinct e->>'level' from raw.grid_events, "
                                       "jsonb_array_elements(escalations) e")}
    assert levels <= {"社区呼叫", "街道吹哨", "部门报到"} and "街道吹哨" in levels
    assert db.execute("select max(jsonb_array_length(escalations)) from raw.grid_events").fetchone()[0] >= 2
    # GB18030 and BOM files decoded, not mojibake
    assert db.execute("select count(*) from raw.social_organizations where category = '功能服务型'").fetchone()[0] > 0
    assert db.execute("select count(*) from raw.social_workers where full_name ~ '^[一-龥]'").fetchone()[0] > 0
