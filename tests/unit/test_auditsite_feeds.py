"""The report site's reading of the feed contracts: same pii fields as the registry, masked when printed."""
from __future__ import annotations

from ingestion.registry import feed_ids, get_spec, normalize_header
from warehouse.auditsite.charts import line_chart
from warehouse.auditsite.feeds import MASK, feed_catalogue, mask_patterns, masked_reason, masked_values


def test_catalogue_equals_the_registry():
    catalogue = feed_catalogue()
    assert sorted(catalogue) == sorted(feed_ids())
    for feed_id in feed_ids():
        spec = get_spec(feed_id)
        pii = {normalize_header(h) for c in spec.columns if c.pii for h in c.header_names()}
        assert catalogue[feed_id].pii_fields == pii, feed_id
        assert catalogue[feed_id].department == spec.department
    assert {"身份证号", "id_number", "姓名", "手机号"} <= catalogue["social_workers"].pii_fields
    assert "当事人" in catalogue["mediation_cases"].pii_fields  # aliases count too


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
