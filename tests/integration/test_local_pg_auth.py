"""The embedded server asks every login for a password (scram-sha-256, TCP and socket),
generated on first start into a 0600 passfile; DSNs and `make dsn` output carry none.
A data directory from the trust-auth days is switched over on start."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import psycopg
import pytest

from infra import local_pg
from warehouse.credentials import LOGINS
from warehouse.settings import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _no_password_login(port: int, user: str, **extra) -> None:
    psycopg.connect(host="127.0.0.1", port=port, user=user, dbname="postgres", passfile="/nonexistent",
                    connect_timeout=10, **extra).close()


def test_embedded_server_requires_passwords(tmp_path, monkeypatch):
    monkeypatch.setattr(local_pg, "DEFAULT_PORT", _free_port())  # never collide with `make demo`
    monkeypatch.setenv("GOV_VAR_DIR", str(tmp_path / "var"))
    root = tmp_path / "var" / "pg"
    local_pg.start(root)
    try:
        port = local_pg._port(root)
        passfile = tmp_path / "var" / "pgpass"
        assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
        assert stat.S_IMODE((root / "run").stat().st_mode) == 0o700  # the socket directory
        assert stat.S_IMODE((tmp_path / "var").stat().st_mode) & 0o007 == 0  # var/: nobody else
        hba = (root / "data" / "pg_hba.conf").read_text()
        assert "trust" not in hba and hba.count("scram-sha-256") == 3

        # Every role's DSN works and names the passfile, never a password.
        for role in local_pg.ROLES:
            dsn = local_pg.dsn(root, role=role)
            info = psycopg.conninfo.conninfo_to_dict(dsn)
            assert "password" not in info and info["passfile"] == str(passfile)
            with psycopg.connect(dsn) as conn:
                superuser = conn.execute("select rolsuper from pg_roles where rolname = session_user").fetchone()[0]
            assert superuser is (role == "owner")

        # Without the password nobody gets in, over TCP or the socket, superuser or not.
        for user in ["postgres", local_pg.AIRFLOW_LOGIN, *(login for login, _ in LOGINS.values())]:
            with pytest.raises(psycopg.OperationalError, match="password"):
                _no_password_login(port, user)
            with pytest.raises(psycopg.OperationalError, match="password"):
                _no_password_login(port, user, password="wrong")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(host=str(root / "run"), port=port, user="postgres", dbname="postgres",
                            passfile="/nonexistent").close()

        # `python -m infra.local_pg dsn --role …` prints DSNs without passwords.
        env = {**os.environ, "GOV_VAR_DIR": str(tmp_path / "var"), "LOCAL_PG_PORT": str(port)}
        printed = subprocess.run([sys.executable, "-m", "infra.local_pg", "dsn", "--role", "bi"], cwd=REPO_ROOT,
                                 env=env, capture_output=True, text=True, check=True)
        secrets_ = [line.split(":", 4)[4] for line in passfile.read_text().splitlines()]
        assert printed.stdout.startswith("postgresql://bi_login@127.0.0.1:")
        assert not any(s in printed.stdout + printed.stderr for s in secrets_)
        assert not any(s in (root / "server.log").read_text() for s in secrets_)
    finally:
        local_pg.stop(root)


def test_trust_data_directory_is_switched_to_passwords(tmp_path, monkeypatch):
    monkeypatch.setattr(local_pg, "DEFAULT_PORT", _free_port())
    monkeypatch.setenv("GOV_VAR_DIR", str(tmp_path / "var"))
    root = tmp_path / "var" / "pg"
    data = root / "data"
    data.mkdir(parents=True)
    local_pg._grant_path(root)
    subprocess.run([local_pg._bin("initdb"), "-D", str(data), "--auth=trust", "--encoding=UTF8", "--no-locale",
                    "-U", "postgres"], check=True, capture_output=True, **local_pg._run_as())
    owner = local_pg.start(root)  # the old layout: trust everywhere
    try:
        assert "trust" not in (data / "pg_hba.conf").read_text()
        with psycopg.connect(owner) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="password"):
            _no_password_login(local_pg._port(root), "postgres")
    finally:
        local_pg.stop(root)
