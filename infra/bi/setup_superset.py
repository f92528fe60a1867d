"""Superset-side setup, run with the BI venv's interpreter by `python -m infra.bi start` (not imported
by the project): permissions (first start), the admin user, the dashboards-as-code bundle
(infra/bi/bundle/, Superset's export format) and the Chinese column labels.

    .venv-bi/bin/python infra/bi/setup_superset.py --bundle DIR --warehouse-uri URI
        --warehouse-password-file FILE --admin-password-file FILE [--init]

The bundle's database YAML carries a masked password (as Superset exports it); the real URI and
the BI login's password are given here. Every model is imported with overwrite, so a changed
bundle or a moved warehouse (another port) is picked up on the next start. Column labels
(verbose_name) come from the PostgreSQL column comments "English; 中文": the Chinese part.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import yaml

ADMIN = "admin"
DATABASE_FILE = "databases/warehouse.yaml"
# Which import command takes which part of the bundle (in dependency order) and its metadata type.
STEPS = [("databases/", "Database"), ("datasets/", "SqlaTable"), ("charts/", "Slice"), ("dashboards/", "Dashboard")]


def chinese_label(comment: str | None) -> str | None:
    """'Community (社区) division code, 12 digits; 社区代码' -> '社区代码' (the part after the last ';')."""
    if not comment:
        return None
    parts = [p.strip() for p in re.split(r"[;；]", comment) if p.strip()]
    if len(parts) < 2:
        return None
    return parts[-1][:150]


def read_bundle(bundle: Path, warehouse_uri: str) -> dict[str, str]:
    contents = {str(path.relative_to(bundle)): path.read_text(encoding="utf-8")
                for path in sorted(bundle.rglob("*.yaml"))}
    from sqlalchemy.engine.url import make_url
    from superset.constants import PASSWORD_MASK

    database = yaml.safe_load(contents[DATABASE_FILE])
    # The mask, not an empty password: the import keeps the given password only when the URI carries the
    # mask (Database.set_sqlalchemy_uri stores a URI's own password, None for a URI without one).
    database["sqlalchemy_uri"] = make_url(warehouse_uri).set(password=PASSWORD_MASK).render_as_string(
        hide_password=False)
    contents[DATABASE_FILE] = yaml.safe_dump(database, allow_unicode=True, sort_keys=False)
    return contents


def import_bundle(contents: dict[str, str], password: str) -> None:
    from superset.commands.chart.importers.v1 import ImportChartsCommand
    from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand
    from superset.commands.database.importers.v1 import ImportDatabasesCommand
    from superset.commands.dataset.importers.v1 import ImportDatasetsCommand

    commands = {"Database": ImportDatabasesCommand, "SqlaTable": ImportDatasetsCommand,
                "Slice": ImportChartsCommand, "Dashboard": ImportDashboardsCommand}
    metadata = yaml.safe_load(contents["metadata.yaml"])
    included: list[str] = []
    for prefix, model_type in STEPS:
        included.append(prefix)
        part = {name: text for name, text in contents.items() if name.startswith(tuple(included))}
        part["metadata.yaml"] = yaml.safe_dump({**metadata, "type": model_type})
        commands[model_type](part, overwrite=True, passwords={DATABASE_FILE: password}).run()


def set_labels(contents: dict[str, str]) -> int:
    """verbose_name of every column of the bundle's datasets from the warehouse's column comments."""
    from sqlalchemy import text
    from superset import db
    from superset.connectors.sqla.models import SqlaTable

    labelled = 0
    for name, body in contents.items():
        if not name.startswith("datasets/"):
            continue
        config = yaml.safe_load(body)
        dataset = db.session.query(SqlaTable).filter_by(uuid=config["uuid"]).one()
        with dataset.database.get_sqla_engine() as engine, engine.connect() as conn:
            # By oid from the catalog: needs no privilege on the schema (granted only at the first publication).
            oid = conn.execute(text(
                "select c.oid from pg_class as c inner join pg_namespace as n on n.oid = c.relnamespace "
                "where n.nspname = :schema and c.relname = :table"),
                {"schema": dataset.schema, "table": dataset.table_name}).scalar()
            if oid is None:
                print(f"setup: {dataset.schema}.{dataset.table_name} is not published yet (make demo); "
                      "its labels are set on the next start", file=sys.stderr)
                continue
            comments = dict(conn.execute(text(
                "select attname, col_description(attrelid, attnum) from pg_attribute "
                "where attrelid = :oid and attnum > 0 and not attisdropped"), {"oid": oid}).fetchall())
            table_comment = conn.execute(text("select obj_description(:oid, 'pg_class')"), {"oid": oid}).scalar()
        for column in dataset.columns:
            comment = comments.get(column.column_name)
            column.verbose_name = chinese_label(comment)
            column.description = comment
            labelled += column.verbose_name is not None
        if table_comment:
            dataset.description = table_comment
    db.session.commit()
    return labelled


def ensure_admin(password: str):
    from superset import security_manager

    user = security_manager.find_user(username=ADMIN)
    if user is None:
        user = security_manager.add_user(ADMIN, "BI", "Admin", "admin@localhost",
                                         security_manager.find_role("Admin"), password=password)
        if not user:
            raise SystemExit("could not create the Superset admin user")
    else:
        security_manager.reset_password(user.id, password)
    return user


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--warehouse-uri", required=True, help="SQLAlchemy URI of the warehouse, without password")
    parser.add_argument("--warehouse-password-file", type=Path, required=True)
    parser.add_argument("--admin-password-file", type=Path, required=True)
    parser.add_argument("--init", action="store_true", help="create permissions and roles (superset init)")
    args = parser.parse_args(argv)

    from flask import g
    from superset.app import create_app

    timings = {}
    start = time.monotonic()
    app = create_app()
    with app.app_context():
        from superset import appbuilder, security_manager

        timings["app"] = time.monotonic() - start
        if args.init:
            appbuilder.add_permissions(update_perms=True)
            security_manager.sync_role_definitions()
            timings["init"] = time.monotonic() - start
        g.user = ensure_admin(args.admin_password_file.read_text().strip())
        contents = read_bundle(args.bundle, args.warehouse_uri)
        import_bundle(contents, args.warehouse_password_file.read_text().strip())
        timings["import"] = time.monotonic() - start
        labelled = set_labels(contents)
        timings["labels"] = time.monotonic() - start
    print(json.dumps({"labelled_columns": labelled, "seconds": {k: round(v, 1) for k, v in timings.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
