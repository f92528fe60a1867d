"""Superset settings for the `bi` profile of infra/deploy/compose.yaml: secrets from files."""
import os
from pathlib import Path


def _secret(name: str) -> str:
    return Path(os.environ[f"{name}_FILE"]).read_text().strip()


SECRET_KEY = _secret("SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = _secret("SUPERSET_METADATA_URL")
FEATURE_FLAGS = {"DASHBOARD_RBAC": True}
# No phoning home, no CDN.
SHOW_STACKTRACE = False
