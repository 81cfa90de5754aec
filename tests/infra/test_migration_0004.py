"""0004 indexes what retention reads on a database that already holds events, and goes back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from stackline_infra.db.migrate import alembic_config
from tests.conftest import _fresh_database
from tests.infra.test_migrations import _OLD_EVENT

RETENTION_INDEXES = {
    ("events", "ix_events_project_id_received_at"): ["project_id", "received_at"],
    ("audit_log", "ix_audit_log_occurred_at"): ["occurred_at"],
}


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    # Built to head by the shared helper, then taken back to 0002 by the test.
    yield from _fresh_database(postgres_admin_url, "m0004")


def _indexes(url: str) -> dict[tuple[str, str], list[str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            return {
                (table, index["name"]): index["column_names"]
                for table in ("events", "audit_log")
                for index in inspector.get_indexes(table)
                if index["name"]
            }
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0004_indexes_a_database_with_events_and_goes_back(
    dialect: str, postgres_url: str, tmp_path: Path
) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'stackline.db'}"
    else:
        url = postgres_url
        command.downgrade(alembic_config(url), "base")
    command.upgrade(alembic_config(url), "0003")
    sync_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    ids = {name: uuid.uuid4() for name in ("user", "project", "incident", "event")}
    engine = create_engine(sync_url)
    try:
        with engine.begin() as connection:
            for statement in filter(str.strip, _OLD_EVENT.split(";")):
                now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"
                params = {k: v.hex if dialect == "sqlite" else v for k, v in ids.items()}
                connection.execute(text(statement.replace("now()", now)), params)

        command.upgrade(alembic_config(url), "0004")
        found = _indexes(sync_url)
        for key, columns in RETENTION_INDEXES.items():
            assert found[key] == columns
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 1

        command.downgrade(alembic_config(url), "0003")
        assert not set(RETENTION_INDEXES) & set(_indexes(sync_url))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
    finally:
        engine.dispose()
