"""Platform command line: the same functions the Airflow tasks call.

    python -m govctl build [--force] [--full-refresh] [--json]   dbt build → gate → publish or block
    python -m govctl demo [--dirty]                               what `make demo` (`make demo-dirty`) runs
    python -m govctl rollback --reason "…"                        republish the kept previous version of the marts
    python -m govctl reports                                      rebuild the auditors' report site, print its path

Loading files is `python -m ingestion`. Exit codes: 0 published or nothing to do;
1 a publication was blocked or nothing could be rolled back (the reason on stderr);
2 usage or configuration error.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import uuid

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def cmd_build(args) -> int:
    from warehouse.publication import build_and_publish

    result = build_and_publish(f"cli-{uuid.uuid4().hex[:8]}", force=args.force, full_refresh=args.full_refresh)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        from warehouse.report import format_phases

        for key, value in result.items():
            if key != "failed_checks":
                print(f"{key}: {format_phases(value) if key == 'phase_seconds' else value}")
    if result["outcome"] == "blocked":
        print(f"error: publication blocked: {result['message']}", file=sys.stderr)
        return 1
    return 0


def cmd_demo(args) -> int:
    if args.dirty:
        from govctl.demo_dirty import run_demo_dirty

        return run_demo_dirty()
    from govctl.demo import run_demo

    return run_demo()


def cmd_rollback(args) -> int:
    from warehouse.rollback import NothingToRollBack, rollback

    try:
        result = rollback(args.reason)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NothingToRollBack as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0


def cmd_reports(args) -> int:
    from warehouse.auditsite import build_site

    print(build_site())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m govctl", description="Governance warehouse platform")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="dbt build, quality gate, publish or block")
    build.add_argument("--force", action="store_true", help="build even if no new batch arrived")
    build.add_argument("--full-refresh", action="store_true",
                       help="rebuild the incremental event facts from raw (after a change of their columns)")
    build.add_argument("--json", action="store_true", help="print the publication as one JSON object")
    build.set_defaults(func=cmd_build)
    demo = sub.add_parser("demo", help="generate, ingest, build, gate, publish; print a summary")
    demo.add_argument("--dirty", action="store_true",
                      help="deliver the dirty sample and a mis-filed row: a blocked publication, marts unchanged")
    demo.set_defaults(func=cmd_demo)
    roll = sub.add_parser("rollback", help="republish the kept previous version of the marts (atomic swap)")
    roll.add_argument("--reason", required=True, help="why: recorded in audit.publications for the auditors")
    roll.set_defaults(func=cmd_rollback)
    sub.add_parser("reports", help="rebuild the auditors' report site and print its index path").set_defaults(
        func=cmd_reports)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    from infra.local_pg import use_local_unless_configured

    use_local_unless_configured()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
