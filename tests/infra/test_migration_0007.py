"""0007 adds the incident-list version and its triggers to a database that already holds
incidents, and goes back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text

from stackline_infra.db.migrate import alembic_config
from tests.conftest import _fresh_database
from tests.infra.test_migrations import _OLD_EVENT


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    # Built to head by the shared helper, then taken back to 0006 by the test.
    yield from _fresh_database(postgres_admin_url, "m0007")


def _versions(engine: Engine) -> list[int]:
    """The project's version: the sum of its shards."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT sum(version) FROM incident_versions GROUP BY project_id")
            ).scalars()
        )


def _bump(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE incidents SET count = count + 1"))


@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0007_versions_a_database_with_incidents_and_goes_back(
    dialect: str, postgres_url: str, tmp_path: Path
) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'stackline.db'}"
        command.upgrade(alembic_config(url), "0006")
    else:
        url = postgres_url
        command.downgrade(alembic_config(url), "0006")
    sync_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    ids = {name: uuid.uuid4() for name in ("user", "project", "incident", "event")}
    engine = create_engine(sync_url)
    try:
        with engine.begin() as connection:
            for statement in filter(str.strip, _OLD_EVENT.split(";")):
                now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"
                params = {k: v.hex if dialect == "sqlite" else v for k, v in ids.items()}
                connection.execute(text(statement.replace("now()", now)), params)

        command.upgrade(alembic_config(url), "0007")
        indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("incidents")}
        assert indexes["ix_incidents_project_last_seen"] == ["project_id", "last_seen", "id"]
        # An incident stored before has version 0 (no row) until it changes.
        assert _versions(engine) == []
        _bump(engine)
        assert _versions(engine) == [1]
        _bump(engine)
        assert _versions(engine) == [2]

        command.downgrade(alembic_config(url), "0006")
        assert "incident_versions" not in inspect(engine).get_table_names()
        _bump(engine)  # no trigger is left to write to the removed table
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count FROM incidents")).scalar_one() == 4
    finally:
        engine.dispose()
