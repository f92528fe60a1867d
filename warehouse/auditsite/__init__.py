"""The auditors' report site under REPORTS_DIR: an index of every publication with trend
charts, and one page per publication (decision, checks by mart and severity, batches and
rejects, lineage from marts to files). Rebuilt after every publication and rollback;
`python -m govctl reports` rebuilds it whole. Offline by construction: inline CSS and SVG.
"""
from __future__ import annotations

import logging
from pathlib import Path

from warehouse.auditsite.data import publication_detail, publications, record_mart_rows
from warehouse.auditsite.pages import index_page, page_name, publication_page
from warehouse.db import connect
from warehouse.private_files import GROUP_DIR, GROUP_FILE, make_dirs, write_file
from warehouse.publish import published_version
from warehouse.settings import get_settings

log = logging.getLogger(__name__)
INDEX = "index.html"


def build_site(dsn: str | None = None, reports_dir: Path | None = None, *,
               only: set[int] | None = None) -> Path:
    """Write the index and the publication pages (`only` those ids plus pages not written yet); returns the index."""
    dsn = dsn or get_settings().dsn
    reports_dir = reports_dir or get_settings().reports_dir
    make_dirs(reports_dir, GROUP_DIR)  # pages 0640 in a 0750 folder: see warehouse.private_files
    with connect(dsn, autocommit=True) as conn:
        rows = publications(conn)
        versions = {schema: published_version(conn, schema) for schema in ("marts", "marts_previous")}
        mart_rows = [dict(zip(("publication_id", "mart", "row_count"), r, strict=True)) for r in conn.execute(
            "select m.publication_id, m.mart, m.row_count from audit.publication_mart_rows m "
            "join audit.publications p using (publication_id) where p.outcome = 'published' order by 1, 2")]
        for row in rows:
            page = reports_dir / page_name(row["publication_id"])
            if only is None or row["publication_id"] in only or not _is_site_page(page):
                _write(page, publication_page(publication_detail(conn, row)))
    index = reports_dir / INDEX
    _write(index, index_page(rows, mart_rows, versions))
    return index


def refresh_site(dsn: str, publication_id: int) -> Path | None:
    """After an attempt: record its marts' rows and lineage, rewrite its page and the index.

    A report failure never undoes a publication: it is logged and `make reports` rebuilds.
    """
    try:
        with connect(dsn, autocommit=True) as conn:
            row = conn.execute("select publication_id, outcome, build_mode, restores_publication, project_fingerprint "
                               "from audit.publications where publication_id = %s", (publication_id,)).fetchone()
            record_mart_rows(conn, dict(zip(("publication_id", "outcome", "build_mode", "restores_publication",
                                             "project_fingerprint"), row, strict=True)), dsn)
        build_site(dsn, only={publication_id})
        return get_settings().reports_dir / page_name(publication_id)
    except Exception:
        log.exception("publication %s: the report site was not rebuilt (run `make reports`)", publication_id)
        return None


def _is_site_page(path: Path) -> bool:
    """A page this site wrote (not the one-table report written first, nor nothing)."""
    try:
        with path.open(encoding="utf-8") as page:
            return 'id="decision"' in page.read()
    except OSError:
        return False


def _write(path: Path, text: str) -> None:
    write_file(path, text, GROUP_FILE)
