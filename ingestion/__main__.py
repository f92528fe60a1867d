"""Command line: the same functions the Airflow tasks call.

    python -m ingestion feeds
    python -m ingestion load FEED PATH [--json] [--progress]
    python -m ingestion load-dir DIR [--json] [--progress]
    python -m ingestion replay BATCH [--json] [--progress]
    python -m ingestion ingest [FEED ...]          take every waiting file in the landing zone
    python -m ingestion status [--json]
    python -m ingestion generate --out DIR [--scale N] [--seed S] [--feeds a,b] [--dirty]
    python -m ingestion dbt-sources [--check]     dbt sources files from the feed specs

Building and publishing marts is the platform's job, not ingestion's: `python -m govctl`.

Exit codes: 0 loaded, partial or duplicate; 1 a file was rejected (the reason on
stderr) / a publication was blocked; 2 usage or configuration error.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _print(obj, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        for key, value in obj.items():
            if key == "errors" and value:
                print("errors:")
                for err in value:
                    print(f"  row {err['row']}, column {err['column']}: [{err['rule']}] {err['reason']}")
            elif key != "errors":
                print(f"{key}: {value}")


def cmd_feeds(args) -> int:
    from ingestion.registry import load_registry

    for spec in load_registry().values():
        print(f"{spec.feed_id:28} {spec.format:6} {spec.encoding or '':10} {spec.department}  {spec.title}")
    return 0


def _load(feed: str, path: Path, args, replay_of: int | None = None):
    """One load with an optional progress line on stderr."""
    from ingestion.load import load_file, replay_batch
    from ingestion.progress import ProgressLine, wanted

    progress = ProgressLine(f"{feed} {path.name}") if wanted(args.progress) else None
    try:
        if replay_of is not None:
            return replay_batch(replay_of, progress=progress)
        return load_file(feed, path, progress=progress)
    finally:
        if progress is not None:
            progress.done()


def _exit_code(summary) -> int:
    if summary.status == "rejected":
        print(f"error: {summary.file} rejected: {summary.message or 'every row was rejected'}", file=sys.stderr)
        return 1
    return 0


def cmd_load(args) -> int:
    path = Path(args.path)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    summary = _load(args.feed, path, args)
    _print(summary.to_dict(), args.json)
    return _exit_code(summary)


def cmd_load_dir(args) -> int:
    """Load every `<feed_id>.<ext>` (and `<feed_id>.<variant>.<ext>`) file of a folder."""
    from ingestion.registry import feed_ids

    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"error: {folder} is not a directory", file=sys.stderr)
        return 2
    worst = 0
    for feed in feed_ids():
        for path in sorted(folder.glob(f"{feed}.*")):
            summary = _load(feed, path, args)
            _print(summary.to_dict() if args.json else _brief(summary.to_dict()), args.json)
            worst = max(worst, _exit_code(summary))
    return worst


def cmd_replay(args) -> int:
    """Reload an archived batch's file as a new batch (see the command's help for the duplicate rule)."""
    try:
        summary = _load("replay", Path(f"batch {args.batch}"), args, replay_of=args.batch)
    except LookupError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    _print(summary.to_dict(), args.json)
    return _exit_code(summary)


def _brief(summary: dict) -> dict:
    keys = ("feed", "file", "status", "rows_in", "rows_loaded", "rows_rejected", "batch_id", "seconds")
    return {"batch": " ".join(f"{k}={summary[k]}" for k in keys)}


def cmd_ingest(args) -> int:
    from ingestion.intake import ingest_pending
    from ingestion.registry import feed_ids

    worst = 0
    for feed in args.feeds or feed_ids():
        for summary in ingest_pending(feed):
            _print(summary if args.json else _brief(summary), args.json)
            worst = max(worst, 1 if summary["status"] == "rejected" else 0)
    return worst


def cmd_status(args) -> int:
    from warehouse.bootstrap import bootstrap
    from warehouse.db import connect

    bootstrap()
    with connect() as conn:
        batches = conn.execute(
            "select feed_id, count(*), coalesce(sum(rows_in), 0), coalesce(sum(rows_loaded), 0), "
            "coalesce(sum(rows_rejected), 0), count(*) filter (where status = 'rejected'), "
            "count(*) filter (where status = 'duplicate'), max(finished_at) "
            "from audit.ingestion_batches group by feed_id order by feed_id").fetchall()
        pub_query = ("select publication_id, outcome, started_at, finished_at, checks_passed, checks_total, "
                     "report_path, message from audit.publications {} order by publication_id desc limit 1")
        last = conn.execute(pub_query.format("")).fetchone()
        published = conn.execute(pub_query.format("where outcome = 'published'")).fetchone()
    pub_keys = ["publication_id", "outcome", "started_at", "finished_at", "checks_passed", "checks_total",
                "report_path", "message"]
    status = {"feeds": [dict(zip(["feed", "batches", "rows_in", "rows_loaded", "rows_rejected", "files_rejected",
                                  "duplicates", "last"], row, strict=True)) for row in batches],
              "last_publication": dict(zip(pub_keys, last, strict=True)) if last else None,
              "last_published": dict(zip(pub_keys, published, strict=True)) if published else None}
    if args.json:
        print(json.dumps(status, ensure_ascii=False, default=str))
        return 0
    print(_status_text(status))
    return 0


def _status_text(status: dict) -> str:
    """The status as an operator reads it: one line per feed, then the last publication."""
    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "-"

    lines = []
    if status["feeds"]:
        header = f"{'feed':28} {'batches':>7} {'rows in':>10} {'loaded':>10} {'rejected':>9}  last batch finished"
        lines += [header, "-" * len(header)]
        for feed in status["feeds"]:
            notes = [f"{feed['files_rejected']} file(s) refused"] if feed["files_rejected"] else []
            notes += [f"{feed['duplicates']} duplicate(s)"] if feed["duplicates"] else []
            lines.append(f"{feed['feed']:28} {feed['batches']:>7} {feed['rows_in']:>10,} {feed['rows_loaded']:>10,} "
                         f"{feed['rows_rejected']:>9,}  {when(feed['last'])}"
                         + (f"  ({', '.join(notes)})" if notes else ""))
    else:
        lines.append("no batches yet: drop files into the landing zone or run `python -m ingestion load`")
    pub = status["last_publication"]
    lines.append("")
    if pub is None:
        lines.append("last publication: none yet (`python -m govctl build`)")
    else:
        checks = f", checks {pub['checks_passed']}/{pub['checks_total']} passed" if pub["checks_total"] else ""
        lines.append(f"last publication: #{pub['publication_id']} {pub['outcome'].upper()} "
                     f"(started {when(pub['started_at'])}, finished {when(pub['finished_at'])}{checks})")
        if pub["message"]:
            lines.append(f"  {pub['message']}")
        if pub["report_path"]:
            lines.append(f"  report: {pub['report_path']}")
        good = status["last_published"]
        if pub["outcome"] != "published":
            lines.append(f"marts are those of publication #{good['publication_id']}, published "
                         f"{when(good['finished_at'])}" if good else "marts: nothing published yet")
    return "\n".join(lines)


def cmd_generate(args) -> int:
    from ingestion.generate import generate_sample

    feeds = args.feeds.split(",") if args.feeds else None
    from ingestion.generate import FEEDS

    unknown = sorted(set(feeds or ()) - set(FEEDS))
    if unknown or args.scale < 1:
        print(f"error: unknown feed(s) {', '.join(unknown)}" if unknown else "error: --scale must be >= 1",
              file=sys.stderr)
        return 2
    if args.dirty:
        from ingestion.generate.dirty import generate_dirty

        manifest = generate_dirty(Path(args.out), scale=args.scale, seed=args.seed, feeds=feeds)
        for entry in manifest["files"]:
            print(f"{entry['feed']:28} {entry['file']:48} expect {entry['expected_status']}")
        print(f"{len(manifest['defects'])} defects listed in {Path(args.out) / 'manifest.json'}")
        return 0
    written = generate_sample(Path(args.out), scale=args.scale, seed=args.seed, feeds=feeds)
    for feed, path in written.items():
        print(f"{feed:28} {path}")
    return 0


def cmd_dbt_sources(args) -> int:
    from ingestion.dbt_sources import stale_files, write

    if args.check:
        problems = stale_files()
        for problem in problems:
            print(f"error: {problem}; run `python -m ingestion dbt-sources`", file=sys.stderr)
        return 1 if problems else 0
    for path in write():
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingestion", description="Governance warehouse ingestion")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("feeds", help="list the registered feeds").set_defaults(func=cmd_feeds)
    load = sub.add_parser("load", help="load one file of one feed")
    load.add_argument("feed")
    load.add_argument("path")
    load.add_argument("--json", action="store_true", help="print the batch summary as one JSON object")
    load.add_argument("--progress", action="store_true", help="rows/s on stderr (default: only on a terminal)")
    load.set_defaults(func=cmd_load)
    load_dir = sub.add_parser("load-dir", help="load every <feed_id>.<ext> file in a folder")
    load_dir.add_argument("dir")
    load_dir.add_argument("--json", action="store_true")
    load_dir.add_argument("--progress", action="store_true")
    load_dir.set_defaults(func=cmd_load_dir)
    replay = sub.add_parser(
        "replay", help="reload an archived batch's file as a new batch (e.g. after a spec fix)",
        description="Reload the archived file of BATCH as a new batch, e.g. after fixing a feed spec or the "
                    "division reference. A replay bypasses the duplicate rule on purpose: it always loads, "
                    "records replay_of = the original batch, and (being later) supersedes the earlier batch's "
                    "rows by key in staging. Replaying a duplicate batch replays the batch it duplicated. A "
                    "later re-delivery of the same file is still recorded as a duplicate of the original.")
    replay.add_argument("batch", type=int)
    replay.add_argument("--json", action="store_true")
    replay.add_argument("--progress", action="store_true")
    replay.set_defaults(func=cmd_replay)
    ingest = sub.add_parser("ingest", help="load every waiting file in the landing zone")
    ingest.add_argument("feeds", nargs="*")
    ingest.add_argument("--json", action="store_true")
    ingest.set_defaults(func=cmd_ingest)
    status = sub.add_parser("status", help="batches per feed and the last publication")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    generate = sub.add_parser("generate", help="write the Meishan sample feeds")
    generate.add_argument("--out", required=True)
    generate.add_argument("--scale", type=int, default=1)
    generate.add_argument("--seed", type=int, default=2021)
    generate.add_argument("--feeds", help="comma-separated feed ids (default: all)")
    generate.add_argument("--dirty", action="store_true",
                          help="inject known defects into copies of the feeds and write manifest.json")
    generate.set_defaults(func=cmd_generate)
    dbt_sources = sub.add_parser("dbt-sources", help="write the dbt sources files from the feed specs")
    dbt_sources.add_argument("--check", action="store_true", help="exit 1 if a committed file differs from the specs")
    dbt_sources.set_defaults(func=cmd_dbt_sources)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    from ingestion.registry import SpecError

    try:
        if args.func not in (cmd_feeds, cmd_generate, cmd_dbt_sources):
            from infra.local_pg import use_local_unless_configured

            use_local_unless_configured()
        return args.func(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    code = main()
    # One command per process: at exit the interpreter's last collections would walk every object the
    # imports made (polars, pyarrow, psycopg, pydantic: 0.15-0.3 s measured); frozen objects are not walked.
    gc.freeze()
    sys.exit(code)
