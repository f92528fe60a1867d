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
