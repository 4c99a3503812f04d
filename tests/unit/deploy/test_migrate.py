"""`python -m oms_shared.migrate <service>`: what the Kubernetes migration Jobs run before a roll-out."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from oms_shared.migrate import main
from tests.unit.deploy.support import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_database_is_brought_to_the_newest_schema_and_a_second_run_changes_nothing(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Migrating before the new pods start, then again (a retried Job, or the pods' own start), is safe."""
    database = tmp_path / "db.sqlite"
    monkeypatch.setenv(f"OMS_{service.replace('-', '_').upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    versions = []
    for _ in range(2):
        assert main([service]) == 0
        assert f"{service}: sqlite database at the newest schema" in capsys.readouterr().out
        with sqlite3.connect(database) as db:
            versions.append(db.execute("SELECT version_num FROM alembic_version").fetchall())
    assert versions[0] and versions[0] == versions[1]


def test_an_unknown_service_is_refused_with_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in a Job's command fails loudly instead of migrating nothing."""
    with pytest.raises(SystemExit) as exit_:
        main(["order"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice" in error and "orders" in error
