"""0006 gives every ingest key stored before it a public part of its own, and goes back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from stackline_contract import keyformat
from stackline_infra.db.migrate import alembic_config
from tests.conftest import _fresh_database

_KEYS = """
    INSERT INTO users (id, provider, provider_user_id, login, created_at, updated_at)
        VALUES (:user, 'local', 'octocat', 'octocat', now(), now());
    INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)
        VALUES (:project, :user, 'Shop', 'octo/shop', 90, now(), now());
    INSERT INTO ingest_keys (id, project_id, prefix, key_hash, created_at, revoked_at)
        VALUES (:live, :project, 'slk_aaaaaa', :live_hash, now(), NULL);
    INSERT INTO ingest_keys (id, project_id, prefix, key_hash, created_at, revoked_at)
        VALUES (:revoked, :project, 'slk_bbbbbb', :revoked_hash, now(), now())
"""


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    # Built to head by the shared helper, then taken back to 0005 by the test.
    yield from _fresh_database(postgres_admin_url, "m0006")


@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0006_gives_each_stored_key_a_public_part_and_goes_back(
    dialect: str, postgres_url: str, tmp_path: Path
) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'stackline.db'}"
        command.upgrade(alembic_config(url), "0005")
    else:
        url = postgres_url
        command.downgrade(alembic_config(url), "0005")
    ids = {name: uuid.uuid4() for name in ("user", "project", "live", "revoked")}
    params: dict[str, object] = {k: v.hex if dialect == "sqlite" else v for k, v in ids.items()}
    params["live_hash"] = keyformat.digest(keyformat.generate())
    params["revoked_hash"] = keyformat.digest(keyformat.generate())
    now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            for statement in filter(str.strip, _KEYS.split(";")):
                connection.execute(text(statement.replace("now()", now)), params)

        command.upgrade(alembic_config(url), "0006")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT key_hash, public_key, revoked_at FROM ingest_keys ORDER BY prefix")
            ).all()
        live, revoked = rows
        # Hashes and revocations untouched: the keys work, and stop, as they did.
        assert bytes(live.key_hash) == params["live_hash"]
        assert bytes(revoked.key_hash) == params["revoked_hash"]
        assert live.revoked_at is None and revoked.revoked_at is not None
        assert keyformat.is_well_formed_public(live.public_key)
        assert keyformat.is_well_formed_public(revoked.public_key)
        assert live.public_key != revoked.public_key
        # One public part names one key: a second row cannot take it.
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO ingest_keys (id, project_id, prefix, key_hash, public_key,"
                    f" created_at) VALUES (:id, :project, 'slk_cccccc', :hash, :public, {now})"
                ),
                {
                    "id": uuid.uuid4().hex if dialect == "sqlite" else uuid.uuid4(),
                    "project": params["project"],
                    "hash": keyformat.digest(keyformat.generate()),
                    "public": live.public_key,
                },
            )

        command.downgrade(alembic_config(url), "0005")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("ingest_keys")}
            assert "public_key" not in columns
            assert connection.execute(text("SELECT count(*) FROM ingest_keys")).scalar_one() == 2
    finally:
        engine.dispose()
