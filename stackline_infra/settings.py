"""Settings every Stackline process reads from its environment, in one place.

Each deployable subclasses these with its own fields; nothing else reads
os.environ.
"""

from __future__ import annotations

from typing import Literal, Self, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProcessSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STACKLINE_", extra="ignore", frozen=True, populate_by_name=True
    )

    # "development" allows conveniences (generated signing keys, local sign-in)
    # that production refuses.
    environment: Literal["development", "production"] = "production"
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    # OpenTelemetry spans for every request and gRPC call, sent by OTLP over HTTP to
    # <otel_endpoint>/v1/traces. Off by default: no exporter, no interceptor, no cost.
    otel_enabled: bool = False
    otel_endpoint: str = "http://127.0.0.1:4318"


class ServiceSettings(ProcessSettings):
    """A gRPC service: where it listens and how it stops."""

    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    # Prometheus scrape port; 0 turns the endpoint off.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # In-flight calls get this long to finish after SIGTERM.
    shutdown_grace_seconds: float = 10.0
    # The gRPC reflection service describes every RPC and message to anyone who reaches the
    # port: a convenience for grpcurl on a developer's machine (make run turns it on), refused
    # in production.
    grpc_reflection: bool = False

    @model_validator(mode="after")
    def _no_reflection_in_production(self) -> Self:
        if self.grpc_reflection and self.environment == "production":
            raise ValueError("STACKLINE_GRPC_REFLECTION is for development only")
        return self


class DatabaseSettings(ServiceSettings):
    """A gRPC service that keeps its data in the shared database."""

    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "STACKLINE_DATABASE_URL")
    )
    database_pool_size: int = Field(default=10, ge=1)
    # Test each pooled connection with a round trip before use, so one that a
    # restarted database broke is replaced instead of failing a call.
    database_pre_ping: bool = True
    # How often the health status is brought in line with the database's reachability.
    database_probe_seconds: float = 2.0

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, url: str) -> str:
        return normalise_database_url(url)


def normalise_database_url(url: str) -> str:
    """Accept the URLs people write and name the async driver Stackline uses.

    postgresql://, postgres:// and postgresql+psycopg:// all mean psycopg 3;
    sqlite:///path means aiosqlite.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://... or sqlite:///...")
    base = scheme.split("+", 1)[0]
    if base in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database {base!r}: use postgresql:// or sqlite:///")


S = TypeVar("S", bound=ProcessSettings)


def load_settings(cls: type[S]) -> S:
    """Read settings, or exit naming each bad variable without echoing its value."""
    try:
        return cls()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise SystemExit(f"invalid settings: {problems}") from None
