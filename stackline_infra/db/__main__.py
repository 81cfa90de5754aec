"""`python -m stackline_infra.db upgrade|current|revision -m MSG`, on DATABASE_URL's database."""

from __future__ import annotations

import argparse

from alembic import command
from pydantic import AliasChoices, Field

from stackline_infra.db.migrate import alembic_config
from stackline_infra.settings import ProcessSettings, load_settings


class MigrateSettings(ProcessSettings):
    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "STACKLINE_DATABASE_URL")
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stackline_infra.db")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("upgrade", help="apply every migration not yet applied")
    sub.add_parser("current", help="print the revision the database is at")
    revision = sub.add_parser("revision", help="write a new migration from the schema's changes")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args()

    config = alembic_config(load_settings(MigrateSettings).database_url)
    if args.command == "upgrade":
        command.upgrade(config, "head")
    elif args.command == "current":
        command.current(config)
    else:
        command.revision(config, message=args.message, autogenerate=True)


if __name__ == "__main__":
    main()
