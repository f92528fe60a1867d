"""The project commit is recorded when there is one; no git is no error."""
from __future__ import annotations

import re

import warehouse.lineage as lineage


def test_commit_of_this_checkout():
    commit, dirty = lineage.git_commit()
    assert re.fullmatch(r"[0-9a-f]{40}", commit) and isinstance(dirty, bool)


def test_no_git_checkout_records_no_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(lineage, "REPO_ROOT", tmp_path)  # an exported tree: no .git anywhere above /tmp
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert lineage.git_commit() == (None, None)
    monkeypatch.setenv("PATH", str(tmp_path))  # and no git program at all
    assert lineage.git_commit() == (None, None)
