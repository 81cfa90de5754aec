"""0008 adds the deletion tombstones and the scrubbing settings to a database that holds a
project with events, and goes back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from stackline_infra.db.migrate import alembic_config
from tests.conftest import _fresh_database
from tests.infra.test_migrations import _OLD_EVENT


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    yield from _fresh_database(postgres_admin_url, "m0008")


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


_SECOND_PROJECT = (
    "INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)"
    " VALUES (:id, :user, 'Shop again', 'Octo/Shop', 90, {now}, {now})"
)


@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0008_adds_tombstones_and_scrub_settings_to_a_database_with_events(
    dialect: str, postgres_url: str, tmp_path: Path
) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'stackline.db'}"
    else:
        url = postgres_url
        command.downgrade(alembic_config(url), "base")
    command.upgrade(alembic_config(url), "0007")
    sync_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"

    def ids(**values: uuid.UUID) -> dict[str, object]:
        return {k: v.hex if dialect == "sqlite" else v for k, v in values.items()}

    names = {name: uuid.uuid4() for name in ("user", "project", "incident", "event")}
    engine = create_engine(sync_url)
    try:
        with engine.begin() as connection:
            for statement in filter(str.strip, _OLD_EVENT.split(";")):
                connection.execute(text(statement.replace("now()", now)), ids(**names))

        command.upgrade(alembic_config(url), "0008")
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT scrub_keep_emails, scrub_fields, scrub_patterns, deleted_at"
                    " FROM projects"
                )
            ).one()
            assert (bool(row[0]), _json(row[1]), _json(row[2]), row[3]) == (False, [], [], None)
            assert connection.execute(text("SELECT deleted_at FROM users")).scalar_one() is None
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 1

        # A live project still holds its repository; a deleted one no longer does.
        second = uuid.uuid4()
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(_SECOND_PROJECT.format(now=now)), ids(id=second, user=names["user"])
            )
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE projects SET deleted_at = {now}"))
            connection.execute(
                text(_SECOND_PROJECT.format(now=now)), ids(id=second, user=names["user"])
            )

        # Going back removes the deleted project whole, as a delete did before 0008.
        command.downgrade(alembic_config(url), "0007")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM projects")).scalar_one() == 1
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(_SECOND_PROJECT.format(now=now)), ids(id=uuid.uuid4(), user=names["user"])
            )
    finally:
        engine.dispose()
