"""The migrations build exactly the schema the code declares, on PostgreSQL and on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.schema import Base
from tests.conftest import _fresh_database

TABLES = {"users", "projects", "ingest_keys", "incidents", "events", "audit_log"}


@pytest.fixture
def migrated_postgres(postgres_admin_url: str) -> Iterator[str]:
    yield from _fresh_database(postgres_admin_url, "migrations")


def _sync_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _assert_matches_models(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
            assert diff == [], f"migrations and models disagree: {diff}"
            assert set(inspect(connection).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_postgres_schema_matches_the_models(migrated_postgres: str) -> None:
    _assert_matches_models(_sync_url(migrated_postgres))


def test_incident_list_by_repo_and_status_uses_an_index(migrated_postgres: str) -> None:
    engine = create_engine(_sync_url(migrated_postgres))
    try:
        with engine.connect() as connection:
            indexes = {
                i["name"]: i["column_names"] for i in inspect(connection).get_indexes("incidents")
            }
    finally:
        engine.dispose()
    assert indexes["ix_incidents_project_status_last_seen"] == [
        "project_id",
        "status",
        "last_seen",
        "id",
    ]


# SQLite cannot reflect expression indexes; the test reads that one from sqlite_master.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_sqlite_is_built_by_the_same_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stackline.db'}"
    command.upgrade(alembic_config(url), "head")
    _assert_matches_models(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            ddl = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'uq_projects_owner_id_repo'"
            ).scalar_one()
    finally:
        engine.dispose()
    assert "UNIQUE INDEX" in ddl and "lower(repo)" in ddl
    command.downgrade(alembic_config(url), "base")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert not TABLES & set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
