"""The DAG folder imports cleanly and wires the assets as ARCHITECTURE.md says."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    started = time.monotonic()
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    bag.parse_seconds = time.monotonic() - started
    return bag


@pytest.fixture(scope="module")
def feeds() -> list[str]:
    from ingestion.registry import feed_ids

    return feed_ids()


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.parse_seconds < 30, f"parsing dags/ took {dagbag.parse_seconds:.1f} s"


def test_only_dag_files_are_parsed(dagbag):
    parsed = {stat.file.lstrip("/") for stat in dagbag.dagbag_stats}
    assert parsed == {"ingest_feeds.py", "build_publish.py", "landing_sweep.py"}, ".airflowignore must keep common/ out"


def test_expected_dag_ids(dagbag, feeds):
    assert set(dagbag.dag_ids) == {f"ingest_{feed}" for feed in feeds} | {"build_publish", "landing_sweep"}


def test_ingest_dags_watch_their_landing_folder(dagbag, feeds):
    from airflow.sdk import Asset
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    from dags.common.landing_trigger import LandingFileTrigger

    for feed in feeds:
        dag = dagbag.dags[f"ingest_{feed}"]
        assert type(dag.timetable) is AssetTriggeredTimetable, "woken by its landing asset only (no timed runs)"
        landing = dag.timetable.asset_condition
        assert isinstance(landing, Asset)
        assert landing.name == f"landing/{feed}"
        [watcher] = landing.watchers
        assert isinstance(watcher.trigger, LandingFileTrigger)
        assert watcher.trigger.serialize() == (
            "dags.common.landing_trigger.LandingFileTrigger",
            {"feed_id": feed, "landing_root": None, "poll_interval": 2.0},
        )
        assert dag.max_active_runs == 1
        assert dag.catchup is False
        [task] = dag.tasks
        assert [a.name for a in task.outlets] == [f"raw/{feed}"]
        assert task.retries >= 1 and task.on_failure_callback, "default_args from dags/common"


def test_one_sweep_for_all_feeds(dagbag):
    """One timed DAG wakes only feeds with files waiting (and a build that gave up), via an alias."""
    from airflow.sdk import AssetAlias, CronTriggerTimetable

    timed = [dag_id for dag_id, dag in dagbag.dags.items() if isinstance(dag.timetable, CronTriggerTimetable)]
    assert timed == ["landing_sweep"], "no other DAG runs on a clock"
    dag = dagbag.dags["landing_sweep"]
    assert isinstance(dag.timetable, CronTriggerTimetable) and dag.max_active_runs == 1 and dag.catchup is False
    [task] = dag.tasks
    assert [type(o) for o in task.outlets] == [AssetAlias] and task.outlets[0].name == "landing_sweep"


def test_build_publish_on_any_raw_asset(dagbag, feeds):
    from airflow.sdk import AssetAny

    dag = dagbag.dags["build_publish"]
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAny)
    assert sorted(a.name for a in condition.objects) == sorted(f"raw/{feed}" for feed in feeds)
    assert dag.max_active_runs == 1
    [task] = dag.tasks
    assert [a.name for a in task.outlets] == ["marts"]
    assert task.retries >= 5, "a build outlives a database outage"


def test_shared_dag_arguments_are_written_once(dagbag):
    """build_publish and landing_sweep take start date, catch-up, one run at a time and default_args from one place."""
    from dags.common.dag_args import DAG_ARGS, START_DATE
    from dags.common.defaults import DEFAULT_ARGS

    for dag_id in ("build_publish", "landing_sweep"):
        dag = dagbag.dags[dag_id]
        assert (dag.start_date, dag.catchup, dag.max_active_runs) == (START_DATE, False, 1), dag_id
        assert dag.default_args == DEFAULT_ARGS, dag_id
        source = (REPO_ROOT / "dags" / f"{dag_id}.py").read_text(encoding="utf-8")
        assert "**DAG_ARGS" in source and "start_date=" not in source and "default_args=" not in source, dag_id
    assert DAG_ARGS["default_args"] is DEFAULT_ARGS


def test_dag_files_do_no_work_at_parse_time():
    """No warehouse/ingestion pipeline import at module level (only the cheap registry)."""
    import ast

    for path in (REPO_ROOT / "dags").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                assert top not in {"warehouse", "expectations"}, f"{path.name}: module-level import of {node.module}"
                assert node.module != "ingestion.intake", f"{path.name}: imports the pipeline at parse time"
