"""The trust boundary on real PostgreSQL: who can do what, and where secrets are not.

One warehouse is loaded with the sample and published by the pipeline itself (loads as
the ingest login, dbt/gate/publication as the transform login). Then every login is
tried against every kind of access, before and after a further publication; the var/
directory and dbt's target/ are searched for the PII key and its HMAC pads; and a key
rotation is shown to rebuild every person key.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.integration.sample_warehouse import PII_TEST_KEY, published_sample
from warehouse.build import hmac_pads, target_dir
from warehouse.credentials import LOGINS, login_dsn

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("trust"), "gov_trust", sample_template)


def attempt(dsn: str, statement: str) -> bool:
    """True when the statement succeeds as that login (always rolled back)."""
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute(statement)
            conn.rollback()
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False
    except psycopg.errors.UndefinedObject as exc:  # pii.person_key() in a session that holds no key
        assert "gov.pii_hmac" in str(exc)
        return False


# (what, statement, {role: allowed}); roles: ingest, transform, bi, auditor, steward
MATRIX = [
    ("read raw", "select * from raw.social_workers limit 1",
     {"ingest": True, "transform": True, "bi": False, "auditor": False, "steward": False}),
    ("insert raw", "insert into raw.party_organizations (org_code, _batch_id, _row_number) values ('x', -1, -1)",
     {"ingest": True, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("update raw", "update raw.party_organizations set org_code = org_code",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("read batches", "select * from audit.ingestion_batches",
     {"ingest": True, "transform": True, "bi": False, "auditor": True, "steward": True}),
    ("update batches", "update audit.ingestion_batches set message = 'x'",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("delete rejects", "delete from audit.rejected_rows",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("update checks", "update audit.check_results set status = 'pass'",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("delete checks", "delete from audit.check_results",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("insert checks", "insert into audit.check_results (publication_id, check_source, check_name, severity, status) "
     "select max(publication_id), 'dbt', 'x', 'warning', 'pass' from audit.publications",
     {"ingest": False, "transform": True, "bi": False, "auditor": False, "steward": False}),
    ("finish a closed batch", "select audit.finish_batch(min(batch_id), 'loaded', 0, 0, 0, 0, null) "
     "from audit.ingestion_batches",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("summarize raw batch ranges", "select audit.summarize_raw_batches('party_organizations')",
     {"ingest": True, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("read marts", "select * from marts.dim_divisions limit 1",
     {"ingest": False, "transform": True, "bi": True, "auditor": True, "steward": False}),
    ("read person keys", "select * from marts.fct_mediation_case_parties limit 1",
     {"ingest": False, "transform": True, "bi": False, "auditor": True, "steward": False}),
    ("read row-level cases", "select * from marts.fct_mediation_cases limit 1",
     {"ingest": False, "transform": True, "bi": False, "auditor": True, "steward": False}),
    ("read suppressed rates", "select * from marts.case_resolution_rates_by_community_month limit 1",
     {"ingest": False, "transform": True, "bi": True, "auditor": True, "steward": False}),
    ("create table in raw", "create table raw.intruder (x int)",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("create schema", "create schema intruder",
     {"ingest": False, "transform": True, "bi": False, "auditor": False, "steward": False}),
    ("temp table", "create temporary table scratch (x int)",
     {"ingest": False, "transform": True, "bi": False, "auditor": False, "steward": False}),
    ("compute a person key", "select pii.person_key('110101199003077777')",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("read bootstrap state", "select * from audit.bootstrap_state",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": False}),
    ("read clear rejects", "select * from audit.rejected_values_clear limit 1",
     {"ingest": False, "transform": False, "bi": False, "auditor": False, "steward": True}),
    ("insert clear rejects", "insert into audit.rejected_values_clear select batch_id, -1, '{}' "
     "from audit.ingestion_batches limit 1",
     {"ingest": True, "transform": False, "bi": False, "auditor": False, "steward": False}),
]


def measure(owner_dsn: str) -> dict[tuple[str, str], bool]:
    return {(what, role): attempt(login_dsn(owner_dsn, role), statement)
            for what, statement, _ in MATRIX for role in LOGINS}


def test_logins_are_not_superusers_and_public_cannot_connect(sample):
    for role in LOGINS:
        with psycopg.connect(login_dsn(sample.dsn, role)) as conn:
            superuser, session_user = conn.execute(
                "select rolsuper, session_user from pg_roles where rolname = session_user").fetchone()
            assert superuser is False and session_user == LOGINS[role][0]
    # A login with a password: the embedded server asks for one (SCRAM) before it checks CONNECT.
    password = secrets.token_urlsafe(16)
    with psycopg.connect(sample.dsn, autocommit=True) as conn:
        conn.execute("drop role if exists gov_trust_nobody")
        verifier = conn.pgconn.encrypt_password(password.encode(), b"gov_trust_nobody", b"scram-sha-256").decode()
        conn.execute(sql.SQL("create role gov_trust_nobody login password {}").format(sql.Literal(verifier)))
        dbname = conn.info.dbname
    try:
        info = psycopg.conninfo.conninfo_to_dict(sample.dsn)
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(host=info["host"], port=info["port"], dbname=dbname, user="gov_trust_nobody",
                            password=password)
    finally:
        with psycopg.connect(sample.dsn, autocommit=True) as conn:
            conn.execute("drop role gov_trust_nobody")


def test_the_pipeline_itself_ran_as_the_logins(sample):
    with psycopg.connect(sample.dsn) as conn:
        marts_owner = conn.execute("select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'marts'"
                                   ).fetchone()[0]
        foreign = conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('marts', 'staging', 'intermediate', 'reference', 'snapshots') "
            "and c.relkind in ('r', 'v') and pg_get_userbyid(c.relowner) <> 'gov_transform'").fetchone()[0]
    assert sample.publication["outcome"] == "published"
    assert marts_owner == "gov_transform"
    assert foreign == 0  # everything dbt built belongs to the transform group, nothing to the superuser


def test_role_matrix_before_and_after_a_publication(sample, capsys):
    from ingestion.load import load_file
    from warehouse.publication import build_and_publish

    before = measure(sample.dsn)
    extra = sample.work / "more" / "fund_allocations.csv"
    extra.parent.mkdir(exist_ok=True)
    lines = sample.files["fund_allocations"].read_text(encoding="utf-8").splitlines()
    extra.write_text("\n".join([lines[0], *[line.replace("BF", "BX", 1) for line in lines[1:6]]]) + "\n",
                     encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAREHOUSE_DSN", sample.dsn)
        env.setenv("PII_HMAC_KEY", PII_TEST_KEY)
        env.setenv("REPORTS_DIR", str(sample.work / "reports"))
        assert load_file("fund_allocations", extra, dsn=sample.dsn).status in ("loaded", "partial")
        assert build_and_publish("trust-matrix", dsn=sample.dsn)["outcome"] == "published"
    after = measure(sample.dsn)
    expected = {(what, role): allowed[role] for what, _, allowed in MATRIX for role in LOGINS}
    with capsys.disabled():
        print("\nrole matrix (measured after a publication): " + ", ".join(LOGINS))
        for what, _, _ in MATRIX:
            print(f"  {what:24} " + " ".join("yes" if after[(what, r)] else "no " for r in LOGINS))
    assert before == expected
    assert after == expected


def _all_files(*roots: Path):
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


def test_no_key_material_in_var_or_dbt_artifacts(sample, session_var_dir):
    pads = hmac_pads(PII_TEST_KEY.encode())
    needles = [PII_TEST_KEY.encode(), pads["PII_HMAC_IPAD"].encode(), pads["PII_HMAC_OPAD"].encode(),
               pads["PII_HMAC_IPAD"][:32].encode(), pads["PII_HMAC_OPAD"][:32].encode()]
    target = target_dir(login_dsn(sample.dsn, "transform"))
    assert (target / "target" / "manifest.json").exists() and (target / "logs").exists()
    searched = 0
    for path in _all_files(session_var_dir, sample.work):
        data = path.read_bytes()
        searched += 1
        for needle in needles:
            assert needle not in data, f"key material in {path}"
    assert searched > 20
    compiled = "\n".join(p.read_text("utf-8") for p in (target / "target").rglob("*.sql"))
    assert "pii.person_key(" in compiled


def test_passfile_is_private_and_dsns_carry_no_password(sample):
    passfile = Path(psycopg.conninfo.conninfo_to_dict(login_dsn(sample.dsn, "ingest"))["passfile"])
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    for role in LOGINS:
        assert "password" not in psycopg.conninfo.conninfo_to_dict(login_dsn(sample.dsn, role))


def test_person_keys_are_hmac_of_the_key(sample):
    with psycopg.connect(sample.dsn) as conn:
        raw_id, key = conn.execute(
            "select r.applicant_id_number, m.applicant_person_key from raw.service_transactions r "
            "join marts.fct_service_transactions m using (transaction_no) "
            "where r.applicant_id_number is not null limit 1").fetchone()
    expected = hmac.new(PII_TEST_KEY.encode(), raw_id.strip().upper().encode(), hashlib.sha256).hexdigest()
    assert key == expected


def test_key_rotation_rebuilds_every_person_key(sample):
    from warehouse.publication import build_and_publish

    def keys(conn) -> set[str]:
        rows = conn.execute("select applicant_person_key from marts.fct_service_transactions "
                            "union select person_key from marts.fct_mediation_case_parties").fetchall()
        return {r[0] for r in rows if r[0]}

    with psycopg.connect(sample.dsn) as conn:
        old = keys(conn)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAREHOUSE_DSN", sample.dsn)
        env.setenv("PII_HMAC_KEY", PII_TEST_KEY + "-rotated")
        env.setenv("REPORTS_DIR", str(sample.work / "reports"))
        result = build_and_publish("trust-rotation", dsn=sample.dsn)  # no new batch: the key alone forces it
        assert result["outcome"] == "published" and result["build_mode"] == "full"
        with psycopg.connect(sample.dsn) as conn:
            new = keys(conn)
            fingerprints = [r[0] for r in conn.execute(
                "select pii_key_fingerprint from audit.publications where outcome = 'published' "
                "order by publication_id desc limit 2")]
        env.setenv("PII_HMAC_KEY", PII_TEST_KEY)  # back, so other tests see the published keys they expect
        assert build_and_publish("trust-rotation-back", dsn=sample.dsn)["outcome"] == "published"
    assert old and new and not (old & new)
    assert len(set(fingerprints)) == 2 and all(fingerprints)
    assert PII_TEST_KEY not in " ".join(fingerprints)


def test_missing_key_in_production_is_an_error(monkeypatch, tmp_path):
    from warehouse.settings import MissingSecret, get_settings

    monkeypatch.setenv("GOV_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PII_HMAC_KEY", raising=False)
    monkeypatch.setenv("WAREHOUSE_ENV", "production")
    with pytest.raises(MissingSecret, match="PII_HMAC_KEY"):
        _ = get_settings().pii_key
    assert not (tmp_path / "var" / "pii_hmac.key").exists()
    monkeypatch.setenv("WAREHOUSE_ENV", "development")
    key = get_settings().pii_key
    key_file = tmp_path / "var" / "pii_hmac.key"
    assert key and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) & 0o077 == 0
    assert os.environ.get("PII_HMAC_KEY") is None


def test_only_the_steward_login_reads_the_clear_values_of_a_rejected_row(sample):
    from ingestion.load import load_file

    path = sample.work / "steward" / "social_workers.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("身份证号,姓名,手机号,职业资格,所属社工站编码,区县代码,入职日期\n"
                    "51140219900101999,王小明,13900001111,社会工作师,S1,511402,2021-01-01\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAREHOUSE_DSN", sample.dsn)
        env.setenv("PII_HMAC_KEY", PII_TEST_KEY)
        batch = load_file("social_workers", path, dsn=sample.dsn)
    assert batch.rows_rejected == 1
    query = "select original_values::text from audit.rejected_values_clear where batch_id = %s"
    with psycopg.connect(login_dsn(sample.dsn, "steward")) as conn:
        [clear] = conn.execute(query, (batch.batch_id,)).fetchone()
        [masked] = conn.execute("select original_values::text from audit.rejected_rows where batch_id = %s",
                                (batch.batch_id,)).fetchone()
    assert "王小明" in clear and "51140219900101999" in clear and "王小明" not in masked
    for role in ("ingest", "transform", "bi", "auditor"):
        assert not attempt(login_dsn(sample.dsn, role), query.replace("%s", str(batch.batch_id))), role


def test_free_text_with_personal_information_blocks_publication(sample):
    """Last in the module: the blocked batch stays in raw. The gate blocks rather than masks:
    a model cannot know every way a department types a phone into 资金用途."""
    from ingestion.load import load_file
    from warehouse.publication import build_and_publish

    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    body = "11010119900307777"
    person = body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    path = sample.work / "pii" / "fund_allocations.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"
                    f"BFPII0001,市财政局,联系人张三 13812345678 身份证{person},511402001001,1.50,2021-10-10\n",
                    encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAREHOUSE_DSN", sample.dsn)
        env.setenv("PII_HMAC_KEY", PII_TEST_KEY)
        env.setenv("REPORTS_DIR", str(sample.work / "reports"))
        assert load_file("fund_allocations", path, dsn=sample.dsn).status == "loaded"
        result = build_and_publish("trust-pii-gate", dsn=sample.dsn)
    assert result["outcome"] == "blocked"
    failed = {c["name"]: c for c in result["failed_checks"]}
    check = failed["fct_fund_allocations_has_no_clear_personal_information"]
    assert "fct_fund_allocations.purpose" in check["message"] and "13812345678" not in check["message"]
    with psycopg.connect(sample.dsn) as conn:
        assert conn.execute("select count(*) from marts.fct_fund_allocations where allocation_code = 'BFPII0001'"
                            ).fetchone()[0] == 0
    report = Path(result["report_path"]).read_text(encoding="utf-8")
    assert "13812345678" not in report and person not in report
