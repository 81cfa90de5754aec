"""Alembic, configured in code: the same migrations build PostgreSQL and SQLite."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from stackline_infra.settings import normalise_database_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_database_url(database_url))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config
