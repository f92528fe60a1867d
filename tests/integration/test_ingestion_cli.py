"""The CLI as scripts use it: exit codes, JSON, progress on stderr, replay, load-dir, dirty generation."""
from __future__ import annotations

import json
import subprocess
import sys

FUND = "拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\nBF1,市财政局,经费,511402001001,10.00,2021-10-10\n"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingestion", *args], capture_output=True, text=True, check=False)


def test_load_replay_and_exit_codes(warehouse_dsn, tmp_path):
    good = tmp_path / "fund_allocations.csv"
    good.write_text(FUND, encoding="utf-8")
    loaded = _run("load", "fund_allocations", str(good), "--json", "--progress")
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert (summary["status"], summary["rows_loaded"]) == ("loaded", 1)
    assert "rows/s" in loaded.stderr  # --progress draws on stderr even when it is not a terminal

    duplicate = _run("load", "fund_allocations", str(good), "--json")
    assert duplicate.returncode == 0 and json.loads(duplicate.stdout)["status"] == "duplicate"

    replay = _run("replay", str(summary["batch_id"]), "--json")
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout)["replay_of"] == summary["batch_id"]

    bad = tmp_path / "bad" / "fund_allocations.csv"
    bad.parent.mkdir()
    bad.write_bytes(FUND.encode("gb18030"))
    rejected = _run("load", "fund_allocations", str(bad))
    assert rejected.returncode == 1 and "rejected" in rejected.stderr and "GB18030" in rejected.stderr

    assert _run("load", "fund_allocations", str(tmp_path / "missing.csv")).returncode == 2
    assert _run("load", "no_such_feed", str(good)).returncode == 2
    assert _run("replay", "999999").returncode == 2
    assert _run("bogus-command").returncode == 2
    help_text = _run("replay", "--help").stdout
    assert "duplicate" in help_text and "supersedes" in help_text

    status = _run("status", "--json")
    assert status.returncode == 0
    assert {f["feed"] for f in json.loads(status.stdout)["feeds"]} == {"fund_allocations"}


def test_generate_dirty_then_load_dir(warehouse_dsn, tmp_path):
    out = tmp_path / "dirty"
    generated = _run("generate", "--out", str(out), "--dirty", "--feeds", "fund_allocations")
    assert generated.returncode == 0, generated.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {f["file"] for f in manifest["files"]} == {p.name for p in out.glob("fund_allocations.*")}
    run = _run("load-dir", str(out), "--json")
    assert run.returncode == 1  # some files are rejected whole, by design
    statuses = {s["file"]: s["status"] for s in map(json.loads, run.stdout.splitlines())}
    assert statuses == {f["file"]: f["expected_status"] for f in manifest["files"]}
    assert _run("feeds").stdout.count("\n") == 16
