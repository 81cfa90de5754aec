"""`python -m stackline_infra.db upgrade|current|wait|revision -m MSG`, on DATABASE_URL's
database."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import AliasChoices, Field
from sqlalchemy.engine import Connection

from stackline_infra.db.engine import create_engine
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
    wait = sub.add_parser(
        "wait", help="exit 0 once the database is at this code's newest migration"
    )
    wait.add_argument("--timeout", type=float, default=600, help="seconds before giving up")
    revision = sub.add_parser("revision", help="write a new migration from the schema's changes")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args()

    config = alembic_config(load_settings(MigrateSettings).database_url)
    if args.command == "upgrade":
        command.upgrade(config, "head")
    elif args.command == "current":
        command.current(config)
    elif args.command == "wait":
        sys.exit(wait_for_head(config.get_main_option("sqlalchemy.url") or "", args.timeout))
    else:
        command.revision(config, message=args.message, autogenerate=True)


def _database_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def _heads(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_database_heads)
    finally:
        await engine.dispose()


def wait_for_head(url: str, timeout: float) -> int:
    """What a pod runs before it serves: the migrations Job of its version must have finished,
    so that new code never meets an old schema. 0 when it has, 1 at the timeout."""
    wanted = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    deadline = time.monotonic() + timeout
    while True:
        try:
            current = asyncio.run(_heads(url))
        except Exception as exc:  # unreachable or not yet created: try again until the deadline
            current = set()
            print(f"database not reachable yet: {type(exc).__name__}", file=sys.stderr)
        if current == wanted:
            return 0
        if time.monotonic() >= deadline:
            print(
                f"database at {sorted(current) or 'no revision'}, this version needs "
                f"{sorted(wanted)}: has the migrations Job run?",
                file=sys.stderr,
            )
            return 1
        time.sleep(2)


if __name__ == "__main__":
    main()
