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


class MissingSecret(RuntimeError):
    """A secret that production requires is not configured (never silently generated)."""


def private_dir(path: Path) -> Path:
    """Create `path` (and var/ state in general) readable by its owner only.

    Group search (x) is tolerated: as root, the embedded server's OS user must traverse var/.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o067:
        path.chmod(mode & 0o710)
    return path


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    landing_uri: str  # a resolved local path, or an fsspec URL such as s3://bucket/prefix
    archive_dir: Path
    reports_dir: Path
    explicit_dsn: str | None
    max_file_bytes: int
    production: bool = False

    @property
    def landing_dir(self) -> Path:
        """The landing zone as a local folder; an error when `LANDING_URI` is object storage
        (use `ingestion.landing_store.open_store()`, which works for both)."""
        if "://" in self.landing_uri:
            raise ValueError(f"LANDING_URI={self.landing_uri} is object storage, not a folder: "
                             "use ingestion.landing_store.open_store()")
        return Path(self.landing_uri)

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
        """HMAC key for person keys: `PII_HMAC_KEY`, else a generated local key file.

        In production (`WAREHOUSE_ENV=production`) a missing key is an error: a new key
        would silently change every person key.
        """
        env_key = os.environ.get("PII_HMAC_KEY")
        if env_key:
            return env_key.encode()
        if self.production:
            raise MissingSecret("PII_HMAC_KEY is not set and WAREHOUSE_ENV=production: refusing to generate a new "
                                "key (every person key would change). Set PII_HMAC_KEY to the warehouse's key.")
        key_file = private_dir(self.var_dir) / "pii_hmac.key"
        if not key_file.exists():
            # Written to a 0600 temp file, then linked into place: never chmod-ed, never half
            # written, and of two concurrent first starts one key wins.
            tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            try:
                os.link(tmp, key_file)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return key_file.read_text().strip().encode()


def get_settings() -> Settings:
    """Read the settings now (never at import time: DAG files import this module)."""
    var_dir = Path(os.environ.get("GOV_VAR_DIR", REPO_ROOT / "var")).resolve()
    landing = os.environ.get("LANDING_URI", str(var_dir / "landing")).strip()
    if landing.startswith("file://"):
        landing = landing[len("file://"):]
    if "://" not in landing:  # a path (or file://); anything else is an fsspec URL, kept as given
        landing = str(Path(landing).resolve())
    return Settings(
        var_dir=var_dir,
        landing_uri=landing.rstrip("/") if "://" in landing else landing,
        archive_dir=Path(os.environ.get("ARCHIVE_DIR", var_dir / "archive")).resolve(),
        reports_dir=Path(os.environ.get("REPORTS_DIR", var_dir / "reports")).resolve(),
        explicit_dsn=os.environ.get("WAREHOUSE_DSN") or None,
        max_file_bytes=int(os.environ.get("MAX_FILE_BYTES", 2 * 1024**3)),
        production=os.environ.get("WAREHOUSE_ENV", "development").strip().lower() == "production",
    )
