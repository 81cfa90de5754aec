"""The migrations build exactly the schema the code declares, on PostgreSQL and on SQLite."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from stackline_infra.db import partitions
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.schema import Base
from tests.conftest import _fresh_database
from tests.support import postgres

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
                MigrationContext.configure(
                    connection,
                    opts={
                        "compare_type": True,
                        "include_name": partitions.include_in_comparison,
                    },
                ),
                Base.metadata,
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


@pytest.fixture
def database_at_0001(postgres_admin_url: str) -> Iterator[str]:
    name = f"stackline_0001_{os.getpid()}_{secrets.token_hex(3)}"
    url = postgres.create_database(postgres_admin_url, name)
    try:
        command.upgrade(alembic_config(url), "0001")
        yield url
    finally:
        postgres.drop_database(postgres_admin_url, name)


_OLD_EVENT = """
    INSERT INTO users (id, provider, provider_user_id, login, created_at, updated_at)
        VALUES (:user, 'local', 'octocat', 'octocat', now(), now());
    INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)
        VALUES (:project, :user, 'Shop', 'octo/shop', 90, now(), now());
    INSERT INTO incidents (id, project_id, fingerprint, grouping_version, status, title,
            exception_type, message, first_seen, last_seen, count, created_at)
        VALUES (:incident, :project, 'f1', 1, 'open', 'TypeError in a.js:1', 'TypeError', 'x',
            now(), now(), 1, now());
    INSERT INTO events (id, project_id, incident_id, event_id, occurred_at, received_at,
            platform, exception_type, message, raw_stack, frames, context)
        VALUES (:event, :project, :incident, :event, now(), now(), 'node', 'TypeError', 'x',
            'TypeError: x', '[{"file": "a.js", "line": 1}]', '{}');
"""


# Alembic's batch mode on SQLite reflects tables, and SQLite cannot reflect expression indexes.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0002_gives_events_stored_before_it_no_causes(
    dialect: str, database_at_0001: str, tmp_path: Path
) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'stackline.db'}"
        command.upgrade(alembic_config(url), "0001")
    else:
        url = database_at_0001
    sync_url = _sync_url(url)
    ids = {name: uuid.uuid4() for name in ("user", "project", "incident", "event")}
    engine = create_engine(sync_url)
    try:
        with engine.begin() as connection:
            for statement in filter(str.strip, _OLD_EVENT.split(";")):
                now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"
                params = {k: v.hex if dialect == "sqlite" else v for k, v in ids.items()}
                connection.execute(text(statement.replace("now()", now)), params)
        command.upgrade(alembic_config(url), "head")
        with engine.connect() as connection:
            causes, frames = connection.execute(text("SELECT causes, frames FROM events")).one()
        assert (json.loads(causes) if isinstance(causes, str) else causes) == []
        assert (json.loads(frames) if isinstance(frames, str) else frames) == [
            {"file": "a.js", "line": 1}
        ]
        command.downgrade(alembic_config(url), "0001")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("events")}
            assert "causes" not in columns
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0003_adds_releases_beside_projects_stored_before_it(
    dialect: str, database_at_0001: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'stackline.db'}" if dialect == "sqlite" else database_at_0001
    command.upgrade(alembic_config(url), "0002")
    ids = {name: uuid.uuid4() for name in ("user", "project", "incident", "event")}
    params = {k: v.hex if dialect == "sqlite" else v for k, v in ids.items()}
    now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"
    engine = create_engine(_sync_url(url))
    try:
        with engine.begin() as connection:
            for statement in filter(str.strip, _OLD_EVENT.split(";")):
                connection.execute(text(statement.replace("now()", now)), params)
        command.upgrade(alembic_config(url), "head")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO releases (project_id, version, commit_sha, created_at,"
                    f" updated_at) VALUES (:project, 'shop@1.4.0', 'abc1234', {now}, {now})"
                ),
                params,
            )
        command.downgrade(alembic_config(url), "0002")
        with engine.connect() as connection:
            assert "releases" not in inspect(connection).get_table_names()
            assert connection.execute(text("SELECT count(*) FROM projects")).scalar_one() == 1
    finally:
        engine.dispose()
