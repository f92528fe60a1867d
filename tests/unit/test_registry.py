"""Feed contracts are strict: every spec loads, and a typo is an error at load time."""
from __future__ import annotations

import pytest

from ingestion.registry import SpecError, feed_ids, get_spec, load_registry, load_spec

SPEC = """\
feed_id: sample_feed
department: 测试
title: Sample
format: csv
encoding: utf-8
key: [code]
columns:
  - {name: code, header: 编码, type: text, required: true}
"""


def test_all_sixteen_feeds_are_registered():
    assert len(feed_ids()) == 16
    spec = get_spec("party_organizations")
    assert spec.key == ("org_code",) and spec.format == "xlsx"
    assert spec.column("org_type").enum[0] == "街道大工委"
    assert {c.name for c in get_spec("social_workers").columns if c.pii} == {"id_number", "full_name", "phone"}


def test_a_valid_spec_loads(tmp_path):
    path = tmp_path / "sample_feed.yml"
    path.write_text(SPEC, encoding="utf-8")
    assert load_spec(path).feed_id == "sample_feed"


@pytest.mark.parametrize("broken, message", [
    (SPEC.replace("required: true", "requierd: true"), "requierd"),
    (SPEC.replace("type: text", "type: txt"), "txt"),
    (SPEC.replace("key: [code]", "key: [kode]"), "kode"),
    (SPEC.replace("encoding: utf-8\n", ""), "encoding"),
    (SPEC.replace("feed_id: sample_feed", "feed_id: other"), "must match the file name"),
])
def test_a_typo_is_an_error_naming_the_spec(tmp_path, broken, message):
    path = tmp_path / "sample_feed.yml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    assert "sample_feed.yml" in str(excinfo.value) and message in str(excinfo.value)


def test_unknown_feed_is_a_clear_error():
    with pytest.raises(SpecError, match="unknown feed 'nope'"):
        get_spec("nope")
    assert load_registry() is load_registry()  # cached, read once per process
