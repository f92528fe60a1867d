"""python -m infra.bi start|stop|status|password — see infra/bi/__init__.py."""
from __future__ import annotations

import argparse
import sys

from infra.bi import BiPaths, _alive, health, start, stop, write_secret


def main(argv: list[str] | None = None) -> int:
    from warehouse.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m infra.bi", description="Apache Superset on the local warehouse")
    parser.add_argument("command", choices=["start", "stop", "status", "password"], nargs="?", default="start")
    parser.add_argument("--port", type=int, help="default: BI_PORT or 8088")
    args = parser.parse_args(argv)
    paths = BiPaths(get_settings().var_dir / "bi")
    if args.command == "stop":
        print("stopped Superset" if stop(paths.root) else "Superset was not running")
        return 0
    if args.command == "password":
        print(write_secret(paths.secret("admin.password")))
        return 0
    if args.command == "status":
        pid = _alive(paths.pid_file)
        print(f"Superset: running (pid {pid})" if pid else "Superset: stopped")
        return 0 if pid else 1
    try:
        server = start(port=args.port)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Superset:  {server.url}   (healthy: {health(server.url)}; started in {server.seconds} s)")
    print("user:      admin")
    print(f"password:  {server.admin_password}")
    print(f"warehouse: login {server.bi_login} (read-only, role bi_reader via bi_city), schema marts")
    print(f"dashboard: {server.url}/superset/dashboard/governance/    stop: make stop    log: {paths.log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
