"""The landing rules are one module: the watcher and the intake take exactly the same files."""
from __future__ import annotations

from pathlib import Path

import pytest

from dags.common.landing_trigger import LandingFileTrigger
from ingestion import landing

NAMES = {
    "orgs.xlsx": True,
    "cases.jsonl": True,
    "report.xlsx.PART": False,
    "report.xlsx.part": False,
    "download.csv.crdownload": False,
    "upload.tmp": False,
    "big.csv.partial": False,
    ".hidden.csv": False,
    ".orgs.xlsx.part": False,
}


@pytest.mark.parametrize(("name", "expected"), sorted(NAMES.items()))
def test_candidate_names(name: str, expected: bool):
    assert landing.is_candidate_name(name) is expected


def test_watcher_and_intake_agree(tmp_path: Path):
    folder = tmp_path / "party_organizations"
    folder.mkdir()
    for name in NAMES:
        (folder / name).write_bytes(b"x")
    (folder / "a_folder").mkdir()
    taken_by_intake = sorted(p.name for p in landing.pending_files(folder))
    seen_by_watcher = sorted(LandingFileTrigger("party_organizations", str(tmp_path))._scan())
    assert taken_by_intake == seen_by_watcher == sorted(n for n, ok in NAMES.items() if ok)


def test_claimed_files_are_pending_and_never_overwritten(tmp_path: Path):
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "a.csv").write_text("1")
    first = landing.claim(folder / "a.csv")
    (folder / "a.csv").write_text("2")
    second = landing.claim(folder / "a.csv")
    assert first == folder / landing.CLAIMED_DIR / "a.csv"
    assert second == folder / landing.CLAIMED_DIR / "a~1.csv"
    assert [p.read_text() for p in landing.pending_files(folder)] == ["1", "2"]
    assert landing.claim(folder / "gone.csv") is None


def test_digest_is_sha256_and_size(tmp_path: Path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert landing.file_digest(path) == (hashlib.sha256(b"abc" * 1000).hexdigest(), 3000)


def test_landing_uri_is_a_folder_or_an_object_store(tmp_path: Path, monkeypatch):
    from ingestion.landing_store import LocalLanding, ObjectLanding, open_store
    from warehouse.settings import get_settings

    monkeypatch.setenv("LANDING_URI", f"file://{tmp_path}/drops/")
    assert get_settings().landing_dir == tmp_path / "drops"
    assert isinstance(open_store(), LocalLanding) and open_store().uri == str(tmp_path / "drops")
    monkeypatch.setenv("LANDING_URI", "memory://gov-landing/drops/")
    assert get_settings().landing_uri == "memory://gov-landing/drops"
    with pytest.raises(ValueError, match="object storage"):
        get_settings().landing_dir  # noqa: B018 - a folder is asked of an object store: fail loudly
    with pytest.raises(ValueError, match="credentials") as refused:
        open_store("s3://AKIAEXAMPLE:s3cr3t@bucket/drops")
    assert "s3cr3t" not in str(refused.value)
    store = open_store()
    assert isinstance(store, ObjectLanding)
    store.fs.pipe_file(f"{store.root}/feed/a.csv", b"1")
    store.fs.pipe_file(f"{store.root}/feed/b.csv.part", b"2")
    [waiting] = store.waiting("feed")
    claimed = store.claim(waiting)
    assert claimed is not None and claimed.claimed and claimed.name == "a.csv"
    assert store.claim(waiting) is None, "claimed elsewhere: the second claimer gets nothing"
    assert [d.name for d in store.pending("feed")] == ["a.csv"]
    with store.local_copy(claimed) as path:
        assert path.name == "a.csv" and path.read_bytes() == b"1"
    store.remove(claimed)
    assert store.pending("feed") == []


def test_local_store_takes_what_the_rules_take(tmp_path: Path):
    from ingestion.landing_store import LocalLanding

    folder = tmp_path / "feed"
    (folder / landing.CLAIMED_DIR).mkdir(parents=True)
    (folder / landing.CLAIMED_DIR / "old.csv").write_text("1")
    for name in NAMES:
        (folder / name).write_bytes(b"x")
    store = LocalLanding(tmp_path)
    assert [d.location for d in store.pending("feed")] == [str(p) for p in landing.pending_files(folder)]
    assert [d.location for d in store.claimed("feed")] == [str(folder / landing.CLAIMED_DIR / "old.csv")]
