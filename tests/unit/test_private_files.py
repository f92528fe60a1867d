"""Files with data are created with their final mode, whatever the umask (no chmod after the fact)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ingestion.archive import archive_file
from warehouse.checks import CheckResult
from warehouse.private_files import copy_file, make_dirs, write_file
from warehouse.report import write_report


@pytest.fixture(autouse=True)
def open_umask():
    """The most permissive umask: any mode not given at creation would show."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_archived_files_are_private_in_private_folders(tmp_path):
    source = tmp_path / "in" / "Social_Workers.CSV"
    source.parent.mkdir()
    source.write_text("姓名,身份证号\n张三,51140219900101123X\n", encoding="utf-8")
    archive = tmp_path / "var" / "archive"
    target = archive_file(source, "ab" * 32, archive, "social_workers")
    assert target == archive / "social_workers" / "ab" / f"{'ab' * 32}.csv"
    assert target.read_bytes() == source.read_bytes()
    assert mode(target) == 0o600
    assert [mode(d) for d in (tmp_path / "var", archive, archive / "social_workers", target.parent)] == [0o700] * 4
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left


def test_reports_are_readable_by_the_group_only(tmp_path):
    reports = tmp_path / "reports"
    publication = {"publication_id": 7, "outcome": "blocked"}
    page = write_report(reports, publication, [CheckResult("gx", "x", "dim_x", "critical", "fail", 1, "m")])
    assert mode(reports) == 0o750
    assert mode(page) == mode(page.with_suffix(".json")) == 0o640
    assert sorted(p.name for p in reports.iterdir()) == ["publication_000007.html", "publication_000007.json"]


def test_an_existing_file_is_replaced_with_the_new_mode_and_existing_folders_are_kept(tmp_path):
    make_dirs(tmp_path / "kept", 0o755)
    path = tmp_path / "kept" / "f.txt"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o666)
    write_file(path, "new")
    assert (path.read_text(encoding="utf-8"), mode(path), mode(tmp_path / "kept")) == ("new", 0o600, 0o755)
    assert mode(copy_file(path, tmp_path / "kept" / "g.txt", 0o640)) == 0o640


def test_copies_are_byte_identical_whatever_the_size(tmp_path):
    """The kernel copy (sendfile) and its fallback: an empty file, a small one, one over a chunk."""
    for name, content in (("empty", b""), ("small", b"a,b\n1,2\n"), ("large", os.urandom(9 << 20))):
        source = tmp_path / f"{name}.csv"
        source.write_bytes(content)
        copied = copy_file(source, tmp_path / f"{name}-copy.csv")
        assert copied.read_bytes() == content and mode(copied) == 0o600
