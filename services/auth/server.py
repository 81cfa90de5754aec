"""AuthService wiring: the servicer on a ServiceHost."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from stackline.auth.v1 import auth_pb2, auth_pb2_grpc

from services.auth.github import GitHub
from services.auth.purge import UserPurge
from services.auth.servicer import AuthServicer
from services.auth.tokens import TokenIssuer
from stackline_infra.clock import WallClock
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.types import utcnow
from stackline_infra.grpc_server import ServiceHost
from stackline_infra.schedule import every

SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


def build_host(
    engine: AsyncEngine,
    issuer: TokenIssuer,
    github: GitHub,
    *,
    dev_login_enabled: bool,
    refresh_ttl: timedelta = timedelta(days=30),
    accept_other_app_tokens: bool = False,
    database_probe_seconds: float = 2.0,
    clock: WallClock = utcnow,
    purge_interval_seconds: float = 0.0,
) -> ServiceHost:
    """The purge of deleted accounts runs every purge_interval_seconds (0: never)."""
    sessions = create_sessionmaker(engine)
    servicer = AuthServicer(
        sessions,
        issuer,
        github,
        dev_login_enabled=dev_login_enabled,
        refresh_ttl=refresh_ttl,
        accept_other_app_tokens=accept_other_app_tokens,
        clock=clock,
    )
    background = []
    if purge_interval_seconds > 0:
        purge = UserPurge(sessions)
        background.append(lambda: every(purge_interval_seconds, purge.run, "account purge"))
    return ServiceHost(
        "auth",
        {
            SERVICE_NAME: lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(
                servicer, server
            )
        },
        engine=engine,
        database_probe_seconds=database_probe_seconds,
        on_stop=[github.close],
        background=background,
    )
