"""``ak-bridge db``: a database written by release 0.1.0 upgrades in place, moves to PostgreSQL.

tests/fixtures/release-0.1.0.db was written by `ak-bridge demo` of release 0.1.0 (before
schema versions): 4 messages, 4 deliveries, 14 audit rows.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ak_bridge.adapters.store import migrations, open_database
from ak_bridge.adapters.store.postgres import PostgresStore
from ak_bridge.cli import cli
from ak_bridge.sim.topology import Topology

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.0.db"


def run(topology: Topology, *args: str, env: dict[str, str] | None = None) -> Result:
    config = topology.workdir / "config"
    return CliRunner().invoke(cli, ["--config", str(config), *args], env=env)


@pytest.fixture
def old_release(topology: Topology) -> Path:
    """The 0.1.0 database where the configuration expects its database."""
    path = Path(topology.settings.database)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(FIXTURE, path)
    return path


def counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as db:
        return {
            t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("messages", "deliveries", "attempts", "certificates", "audit")
        }


def test_an_old_schema_is_refused_with_the_command_to_run(
    topology: Topology, old_release: Path
) -> None:
    for command in (["messages"], ["worker", "--once"], ["serve", "--dev"]):
        result = run(topology, *command)
        assert result.exit_code == 1, command
        assert "schema is at version 1, this release needs" in result.output
        assert "ak-bridge db upgrade" in result.output
    status = run(topology, "db", "status")
    assert status.exit_code == 1 and "pending: 2" in status.output
    assert f"pending: {migrations.LATEST}" in status.output


def test_the_old_database_upgrades_in_place_with_its_data_intact(
    topology: Topology, old_release: Path
) -> None:
    before = counts(old_release)
    assert before["messages"] == 4 and before["audit"] == 14
    result = run(topology, "db", "upgrade")
    assert result.exit_code == 0, result.output
    applied = ", ".join(str(v) for v in range(2, migrations.LATEST + 1))
    assert f"applied {applied}; now at {migrations.LATEST}" in result.output
    assert counts(old_release) == before
    assert run(topology, "db", "status").exit_code == 0
    assert run(topology, "audit", "verify").exit_code == 0
    listed = run(topology, "messages")
    assert listed.exit_code == 0 and listed.output.count("AKB-") >= 4
    assert f"already at {migrations.LATEST}" in run(topology, "db", "upgrade").output


def test_a_newer_schema_is_refused(topology: Topology, old_release: Path) -> None:
    run(topology, "db", "upgrade")
    with closing(sqlite3.connect(old_release)) as db, db:
        db.execute("INSERT INTO schema_version VALUES (99, 'future', 'x')")
    result = run(topology, "messages")
    assert result.exit_code == 1 and "newer than this release knows" in result.output
    assert run(topology, "db", "upgrade").exit_code == 1


def test_copy_moves_the_history_to_postgresql_and_verifies_it(
    topology: Topology, old_release: Path, pg_url: str
) -> None:
    run(topology, "db", "upgrade")
    result = run(topology, "db", "copy", "--to", pg_url)
    assert result.exit_code == 0, result.output
    assert "messages 4" in result.output and "audit 14" in result.output
    assert "verified" in result.output
    target = open_database(pg_url)
    assert target.verify_audit() == []
    assert target.schema_version() == migrations.LATEST
    # the service runs on the copy: new rows continue after the copied ids
    assert run(topology, "audit", "verify", env={"AK_BRIDGE_DATABASE": pg_url}).exit_code == 0
    assert len(target.find_messages()) == 4
    again = run(topology, "db", "copy", "--to", pg_url)
    assert again.exit_code == 1 and "already holds messages" in again.output


def test_copy_refuses_a_chain_that_does_not_verify(
    topology: Topology, old_release: Path, pg_url: str
) -> None:
    run(topology, "db", "upgrade")
    with closing(sqlite3.connect(old_release)) as db, db:
        db.execute("UPDATE audit SET detail = 'edited' WHERE seq = 3")
    result = run(topology, "db", "copy", "--to", pg_url)
    assert result.exit_code == 1 and "seq 3" in result.output


def test_a_postgresql_url_with_a_password_is_refused(topology: Topology, pg_url: str) -> None:
    bad = pg_url.replace("postgres@", "postgres:secret@")
    result = run(topology, "messages", env={"AK_BRIDGE_DATABASE": bad})
    assert result.exit_code == 1 and "PGPASSWORD" in result.output


def test_backup_while_running_is_consistent_and_private(
    topology: Topology, old_release: Path, tmp_path: Path
) -> None:
    run(topology, "db", "upgrade")
    target = tmp_path / "backup.db"
    result = run(topology, "db", "backup", str(target))
    assert result.exit_code == 0, result.output
    assert counts(target) == counts(old_release)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert open_database(target).verify_audit() == []


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    open_database(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_empty_postgresql_database_gets_the_latest_schema(pg_url: str) -> None:
    store = PostgresStore.open(pg_url)
    assert store.schema_version() == migrations.LATEST
    assert store.upgrade(datetime.now(UTC)) == []  # nothing left to apply
