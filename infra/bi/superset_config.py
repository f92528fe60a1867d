"""Superset configuration for the local BI client (loaded through SUPERSET_CONFIG_PATH by `make bi`).

Everything comes from the environment the launcher (python -m infra.bi) sets: the metadata
database URI and the files holding its password and the SECRET_KEY (generated under var/bi, mode 0600).
No telemetry: the Scarf pixel is removed from the content security policy, so browsers never
load it, and SCARF_ANALYTICS / DO_NOT_TRACK are set by the launcher.
"""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from superset.config import TALISMAN_CONFIG as _DEFAULT_TALISMAN

SECRET_KEY = Path(os.environ["BI_SECRET_KEY_FILE"]).read_text().strip()
# The metadata database: its URI without password, the password from a 0600 file (never in the environment).
SQLALCHEMY_DATABASE_URI = make_url(os.environ["BI_METADATA_URI"]).set(
    password=Path(os.environ["BI_METADATA_PASSWORD_FILE"]).read_text().strip()).render_as_string(hide_password=False)
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}

# Local, single user machine: no rate limiting store, no proxies, plain HTTP on 127.0.0.1.
ENABLE_PROXY_FIX = False
RATELIMIT_ENABLED = False
SESSION_COOKIE_SECURE = False
SESSION_COOKIE_SAMESITE = "Lax"

# Synchronous SQL Lab (no Celery); results are never kept in a results backend.
SQLLAB_TIMEOUT = 60
SUPERSET_WEBSERVER_TIMEOUT = 120
FEATURE_FLAGS = {"DASHBOARD_RBAC": False, "ALERT_REPORTS": False, "TAGGING_SYSTEM": False}

# The interface in Chinese by default (labels of the marts are Chinese too).
BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}

# No phone-home: the navigation bar renders a Scarf tracking pixel; the content security policy
# allows nothing outside this server (no pixel, fonts, map tiles or documentation images).
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []
_csp = {key: (list(value) if isinstance(value, list) else value)
        for key, value in _DEFAULT_TALISMAN["content_security_policy"].items()}
_csp.update({"img-src": ["'self'", "blob:", "data:"], "connect-src": ["'self'"],
             "style-src": ["'self'", "'unsafe-inline'"], "font-src": ["'self'"]})
TALISMAN_CONFIG = {**_DEFAULT_TALISMAN, "content_security_policy": _csp}

LOG_LEVEL = os.environ.get("BI_LOG_LEVEL", "WARNING")
