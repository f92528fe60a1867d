"""The landing zone on object storage: LANDING_URI=s3://bucket/prefix, against a real S3 server.

moto's S3 server runs on 127.0.0.1 (started here, on a free port); s3fs talks to it over
HTTP with credentials from the environment, as it would to AWS or MinIO. The watcher's
code (dags/common/landing_trigger.py) and the intake (ingestion/intake.py) list, claim,
download and delete the same objects; audit proves each content is loaded once.
"""
from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator

import pytest

from dags.common.landing_trigger import LandingFileTrigger
from ingestion.intake import ingest_pending, pending_deliveries
from ingestion.landing_store import ObjectLanding, open_store
from warehouse.settings import get_settings

BUCKET = f"gov-landing-{uuid.uuid4().hex[:8]}"  # moto keeps buckets per process: one per test run
HEADER = "拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"
FUNDS = HEADER + "BF1,市财政局,社区公益创投资金,511402001001,10.00,2021-10-10\nBF2,市财政局,经费,511402001002,5.00,2021-10-11\n"


@pytest.fixture
def s3(monkeypatch) -> Iterator:
    """A real S3 API (moto server) on a free local port; LANDING_URI points into its bucket."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # Credentials only in the environment, as in production (never in the URI, a file or a log).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("LANDING_URI", f"s3://{BUCKET}/landing")
    try:
        yield client
    finally:
        for listed in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=listed["Key"])
        server.stop()


def _put(client, key: str, body: bytes) -> None:
    client.put_object(Bucket=BUCKET, Key=f"landing/{key}", Body=body)


def _keys(client) -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="landing/").get("Contents", [])
    return sorted(o["Key"].removeprefix("landing/") for o in listed)


def _batches(db) -> list[tuple]:
    return db.execute("select feed_id, file_name, status, rows_in, rows_loaded, rows_rejected, sha256 "
                      "from audit.ingestion_batches order by batch_id").fetchall()


def test_deliveries_on_s3_are_claimed_and_loaded_exactly_once(db, s3, tmp_path):
    from ingestion.generate import generate_sample

    services = generate_sample(tmp_path / "sample", feeds=["social_workers"])["social_workers"]
    _put(s3, "fund_allocations/fund_allocations.csv", FUNDS.encode())
    _put(s3, "fund_allocations/next.csv.part", b"half an upload")  # in progress: never taken
    _put(s3, "fund_allocations/.hidden.csv", b"hidden")
    _put(s3, f"social_workers/{services.name}", services.read_bytes())

    assert isinstance(open_store(), ObjectLanding)
    with pytest.raises(ValueError, match="object storage"):
        get_settings().landing_dir  # noqa: B018 - code that expects a folder fails loudly

    # The watcher's listing sees exactly the finished deliveries the intake would take.
    funds_watcher = LandingFileTrigger("fund_allocations")
    assert sorted(funds_watcher._scan()) == ["fund_allocations.csv"]
    assert sorted(LandingFileTrigger("social_workers")._scan()) == [services.name]
    assert [d.name for d in pending_deliveries("fund_allocations")] == ["fund_allocations.csv"]

    # The watcher claims the funds file (objects are complete once listed) and yields one event.
    async def first_event():
        run = funds_watcher.run()
        try:
            return await asyncio.wait_for(anext(run), 30)
        finally:
            await run.aclose()

    event = asyncio.run(first_event())
    assert event.payload["name"] == "fund_allocations.csv"
    assert event.payload["sha256"] == hashlib.sha256(FUNDS.encode()).hexdigest()
    assert event.payload["size"] == len(FUNDS.encode())
    assert "/.claimed/" in event.payload["file"]
    claimed_key = event.payload["file"].removeprefix(f"{BUCKET}/landing/")
    assert "fund_allocations/fund_allocations.csv" not in _keys(s3)
    assert claimed_key in _keys(s3)
    # A second claimer (another machine that listed the same object) finds it gone: no claim.
    [listed_before] = [d for d in [*open_store().waiting("social_workers")]]
    assert open_store().claim(listed_before) is not None
    assert open_store().claim(listed_before) is None
    assert open_store().waiting("social_workers") == []

    # The intake takes the claimed objects of both feeds; the .part and hidden objects stay.
    funds = ingest_pending("fund_allocations")
    workers = ingest_pending("social_workers")
    assert [(s["file"], s["status"], s["rows_loaded"]) for s in funds] == [("fund_allocations.csv", "loaded", 2)]
    assert [(s["file"], s["status"]) for s in workers] == [(services.name, "loaded")]
    assert workers[0]["rows_loaded"] > 0 and workers[0]["rows_in"] == workers[0]["rows_loaded"] + \
        workers[0]["rows_rejected"]
    assert _keys(s3) == ["fund_allocations/.hidden.csv", "fund_allocations/next.csv.part"]

    batches = _batches(db)
    assert [(f, n, st) for f, n, st, *_ in batches] == [
        ("fund_allocations", "fund_allocations.csv", "loaded"), ("social_workers", services.name, "loaded")]
    assert db.execute("select count(*) from raw.fund_allocations").fetchone()[0] == 2
    for feed, _, _, _, _, _, sha in batches:  # archived locally, content-addressed
        assert list((get_settings().archive_dir / feed).rglob(f"{sha}*"))

    # A second intake finds nothing: nothing loaded twice, nothing new recorded.
    assert ingest_pending("fund_allocations") == [] and ingest_pending("social_workers") == []
    assert len(_batches(db)) == 2


def test_two_claims_of_one_object_are_read_twice_and_loaded_once(db, s3):
    """What two watchers racing on one object leave behind: two claimed copies. Audit loads one."""
    body = FUNDS.encode()
    _put(s3, "fund_allocations/.claimed/etag~aaaa/fund_allocations.csv", body)
    _put(s3, "fund_allocations/.claimed/etag~bbbb/fund_allocations.csv", body)
    recovered = LandingFileTrigger("fund_allocations")._leftovers()
    assert [k.rsplit("/", 2)[-2] for k in recovered] == ["etag~aaaa", "etag~bbbb"]

    summaries = ingest_pending("fund_allocations")
    assert sorted(s["status"] for s in summaries) == ["duplicate", "loaded"]
    assert db.execute("select count(*) from raw.fund_allocations").fetchone()[0] == 2
    assert _keys(s3) == []
    # A corrected file re-uploaded under the same name is a new version, claimed and loaded.
    _put(s3, "fund_allocations/fund_allocations.csv", body.replace(b"10.00", b"12.50"))
    [again] = ingest_pending("fund_allocations")
    assert (again["status"], again["rows_loaded"]) == ("loaded", 2)
