"""The database metrics every service exports: query latency by statement kind, pool use."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy import text

from stackline_infra.db.engine import create_engine
from stackline_infra.db.metrics import instrument_engine, statement_kind


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_statement_kinds_are_a_closed_set() -> None:
    assert statement_kind("  SELECT 1") == "select"
    assert statement_kind("insert into events ...") == "insert"
    assert statement_kind("WITH x AS (SELECT 1) SELECT * FROM x") == "with"
    assert statement_kind("VACUUM events") == "other"
    assert statement_kind("select_everything_from_a_name_a_user_chose") == "other"
    assert statement_kind("") == "other"


async def test_queries_are_timed_and_the_pool_reported(database_url: str) -> None:
    engine = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=3
    )
    instrument_engine(engine)
    counted = "stackline_database_query_duration_seconds_count"
    before = _value(counted, {"statement": "select"})
    try:
        async with engine.connect() as connection:
            assert _value("stackline_database_pool_connections", {"state": "in_use"}) == 1
            await connection.execute(text("SELECT 1"))
            await connection.execute(text("SELECT 2"))
        assert _value("stackline_database_pool_connections", {"state": "in_use"}) == 0
        assert _value("stackline_database_pool_connections", {"state": "idle"}) == 1
        # pool_size plus as many overflow connections.
        assert _value("stackline_database_pool_connections", {"state": "max"}) == 6
    finally:
        await engine.dispose()
    # The pre-ping, if any, is not a statement of ours; the two SELECTs are.
    assert _value(counted, {"statement": "select"}) >= before + 2
