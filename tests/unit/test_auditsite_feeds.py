"""The report site's reading of the feed contracts (the generated dbt sources): same pii fields as the
registry, masked when printed."""
from __future__ import annotations

from ingestion.dbt_sources import render
from ingestion.registry import feed_ids, get_spec, load_spec, normalize_header
from warehouse.auditsite.charts import line_chart
from warehouse.auditsite.feeds import MASK, feed_catalogue, mask_patterns, masked_reason, masked_values


def test_catalogue_equals_the_registry():
    catalogue = feed_catalogue()
    assert sorted(catalogue) == sorted(feed_ids())
    for feed_id in feed_ids():
        spec = get_spec(feed_id)
        pii = {normalize_header(h) for c in spec.columns if c.pii for h in c.header_names()}
        assert catalogue[feed_id].pii_fields == pii, feed_id
        assert (catalogue[feed_id].department, catalogue[feed_id].title) == (spec.department, spec.title)
    assert {"身份证号", "id_number", "姓名", "手机号"} <= catalogue["social_workers"].pii_fields
    assert "当事人" in catalogue["mediation_cases"].pii_fields  # aliases count too


def test_a_pii_column_of_a_new_spec_reaches_the_catalogue_through_the_generated_sources(tmp_path):
    spec_path = tmp_path / "street_lamps.yml"
    spec_path.write_text(
        "feed_id: street_lamps\ndepartment: 市城管局\ndbt_source: city_management\ntitle: Street lamps / 路灯\n"
        "format: csv\nencoding: utf-8\nkey: [lamp_code]\ncolumns:\n"
        "  - {name: lamp_code, header: 路灯编号, type: text, required: true}\n"
        "  - {name: keeper_phone, header: 管护人电话, aliases: [联系电话], type: phone, pii: true}\n", encoding="utf-8")
    spec = load_spec(spec_path)
    for file in render({spec.feed_id: spec}, tmp_path / "staging"):
        file.path.parent.mkdir(parents=True)
        file.path.write_text(file.text, encoding="utf-8")
    [feed] = feed_catalogue(tmp_path / "staging").values()
    assert (feed.feed_id, feed.department, feed.title) == ("street_lamps", "市城管局", "Street lamps / 路灯")
    assert feed.pii_fields == {"keeper_phone", "管护人电话", "联系电话"}


def test_personal_fields_are_masked_by_any_of_their_names():
    shown = masked_values("social_workers", {"身份证号": "51140219900101123X", " 姓 名": "张三", "phone": "13812345678",
                                             "备注": "联系人 13812345678 身份证 51140219900101123X", "资格": "初级"})
    assert shown == {"身份证号": MASK, " 姓 名": MASK, "phone": MASK,
                     "备注": f"联系人 *******5678 身份证 {MASK}", "资格": "初级"}
    assert set(masked_values("no_such_feed", {"a": "1", "b": "x"}).values()) == {MASK}  # unknown contract: all
    assert mask_patterns(None) == "" and mask_patterns(12.5) == "12.5"
    # Reasons quote the refused value: masked for personal fields, kept for the others.
    assert masked_reason("social_workers", "full_name", "'张三丰' is too long") == f"'{MASK}' is too long"
    assert masked_reason("social_workers", "id_number", "'5114' is not an ID") == f"'{MASK}' is not an ID"
    assert masked_reason("party_organizations", "member_count", "'-5' is below 0") == "'-5' is below 0"


def test_chart_points_carry_their_values():
    svg = line_chart("c", "t", {"a": [(1, 2.0), (3, 4.5)], "b": [(1, 0)]})
    assert 'data-series="a" data-x="3" data-y="4.5"' in svg and 'data-series="b" data-x="1" data-y="0"' in svg
    assert "<script" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
