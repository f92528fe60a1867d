"""Runtime configuration, read from the environment with working local defaults.

Every path lives under `var/` (git-ignored) unless an environment variable says
otherwise, so a fresh clone needs no configuration at all.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class WarehouseNotConfigured(RuntimeError):
    """No warehouse to connect to: WAREHOUSE_DSN is unset."""


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    landing_dir: Path
    archive_dir: Path
    reports_dir: Path
    explicit_dsn: str | None
    max_file_bytes: int

    @cached_property
    def dsn(self) -> str:
        """`WAREHOUSE_DSN`. Entry points (the CLIs, `make`) point it at the local embedded
        server when it is unset (`infra.local_pg.use_local_unless_configured`); the
        warehouse code itself never starts servers."""
        if self.explicit_dsn:
            return self.explicit_dsn
        raise WarehouseNotConfigured(
            "WAREHOUSE_DSN is not set. Point it at a PostgreSQL server, or start the local warehouse "
            "with `make dsn` and use the DSN it prints (the CLIs do this by themselves).")

    @property
    def pii_key(self) -> bytes:
        """HMAC key for person keys: `PII_HMAC_KEY`, else a generated local key file."""
        env_key = os.environ.get("PII_HMAC_KEY")
        if env_key:
            return env_key.encode()
        key_file = self.var_dir / "pii_hmac.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip().encode()


def get_settings() -> Settings:
    """Read the settings now (never at import time: DAG files import this module)."""
    var_dir = Path(os.environ.get("GOV_VAR_DIR", REPO_ROOT / "var")).resolve()
    landing = os.environ.get("LANDING_URI", str(var_dir / "landing"))
    if landing.startswith("file://"):
        landing = landing[len("file://"):]
    return Settings(
        var_dir=var_dir,
        landing_dir=Path(landing).resolve(),
        archive_dir=Path(os.environ.get("ARCHIVE_DIR", var_dir / "archive")).resolve(),
        reports_dir=Path(os.environ.get("REPORTS_DIR", var_dir / "reports")).resolve(),
        explicit_dsn=os.environ.get("WAREHOUSE_DSN") or None,
        max_file_bytes=int(os.environ.get("MAX_FILE_BYTES", 2 * 1024**3)),
    )
