"""The gateway application: routes, error handling, middleware, and the channels it lives on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.gateway.backends import open_backends
from services.gateway.body_limit import BodyLimitMiddleware
from services.gateway.credentials import IngestKeyCache, TokenVerifier
from services.gateway.dependencies import GatewayState
from services.gateway.errors import install_error_handlers
from services.gateway.ingest_batcher import IngestBatcher
from services.gateway.ingest_fast_path import IngestFastPath
from services.gateway.metrics import MetricsMiddleware
from services.gateway.rate_limits import RateLimits
from services.gateway.revocations import RevocationBus
from services.gateway.routers import (
    auth,
    health,
    incidents,
    ingest,
    me,
    projects,
    releases,
    sentry,
    sourcemaps,
)
from services.gateway.schemas.errors import document_common_errors
from services.gateway.schemas.ingest import IngestBatch, IngestEvent
from services.gateway.sentry_fast_path import SentryFastPath
from services.gateway.settings import GatewaySettings
from services.gateway.tracing import REQUEST_ID_HEADER, TraceMiddleware
from stackline_infra import otel
from stackline_infra.clock import MonotonicClock

DESCRIPTION = """\
Stackline's public API: SDKs send errors to `POST /api/ingest` with a project's
ingest key; the dashboard and the editor extension manage projects and read
incidents with a user's access token.

Every error is `{"error": {"code", "message", "field"}}`.
"""


def create_app(settings: GatewaySettings, *, clock: MonotonicClock = time.monotonic) -> FastAPI:
    """The app; `clock` is what the key cache and the other in-memory periods count time by."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backends = open_backends(settings)
        batcher = IngestBatcher(
            backends.ingest,
            max_pending=settings.ingest_max_pending_events,
            max_calls_in_flight=settings.ingest_calls_in_flight,
        )
        ingest_keys = IngestKeyCache(
            backends.auth, ttl=settings.ingest_key_cache_seconds, clock=clock
        )
        revocations = RevocationBus(settings.redis_url, ingest_keys)
        app.state.gateway = GatewayState(
            settings=settings,
            backends=backends,
            tokens=TokenVerifier(backends.auth, clock=clock),
            ingest_keys=ingest_keys,
            batcher=batcher,
            limits=RateLimits(settings),
            revocations=revocations,
        )
        revocations.start()
        try:
            yield
        finally:
            await revocations.close()
            await batcher.drain()
            await backends.close()
            # Here, not after uvicorn.run: uvicorn ends the process by re-raising SIGTERM.
            otel.shutdown()

    app = FastAPI(
        # Prometheus at /metrics is how Stackline is watched; FastAPI's own
        # OpenTelemetry hooks would cost every request and report nowhere.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        title="Stackline API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    for router in (
        ingest.router,
        sentry.router,
        projects.router,
        releases.router,
        sourcemaps.router,
        incidents.router,
        auth.router,
        me.router,
        health.router,
    ):
        app.include_router(router)
    install_error_handlers(app)
    # Added first, so it sits innermost: CORS, the body limit and the metrics still apply.
    app.add_middleware(IngestFastPath, router=ingest.router, endpoint=ingest.ingest)
    app.add_middleware(
        SentryFastPath, router=sentry.router, endpoints=[sentry.envelope, sentry.store]
    )
    # Browser SDKs post errors from any site. No route trusts cookies, so a
    # cross-origin call carries no ambient authority.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-None-Match",
            "X-Sentry-Auth",
            "traceparent",
        ],
        # Sentry's browser SDK reads its back-off from X-Sentry-Rate-Limits.
        expose_headers=["ETag", "Retry-After", "X-Sentry-Rate-Limits", REQUEST_ID_HEADER],
        max_age=86_400,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger=[(sourcemaps.UPLOAD_PATH, sourcemaps.MAX_UPLOAD_BYTES)],
    )
    app.add_middleware(MetricsMiddleware)
    # Outermost: every log line of the request, errors included, carries its trace.
    app.add_middleware(TraceMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if otel.enabled():
        # Wraps the whole middleware stack, so the request's span is current in TraceMiddleware.
        FastAPIInstrumentor.instrument_app(app, tracer_provider=otel.provider())
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    # Validation failures are answered with 400 in Stackline's error shape,
    # never FastAPI's 422.
    for path in schema["paths"].values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
            document_common_errors(
                operation, access_token={"UserToken": []} in operation.get("security", [])
            )
    # The ingest route checks its key itself (see resolve_ingest_key); name the scheme here.
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["IngestKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A project's ingest key, `slk_...`.",
    }
    # Sentry SDKs send the key in their own header, or in the query (browsers, @sentry/node).
    schema["components"]["securitySchemes"]["SentryKey"] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-Sentry-Auth",
        "description": "`Sentry sentry_key=<the DSN's public key (slp_), or an ingest key>, "
        "sentry_version=7, ...`",
    }
    schema["components"]["securitySchemes"]["SentryKeyQuery"] = {
        "type": "apiKey",
        "in": "query",
        "name": "sentry_key",
        "description": "The public key the DSN names (slp_), or an ingest key.",
    }
    # How access tokens are had: GitHub's authorization-code flow ends at the callback, which
    # answers the session, and refresh tokens are spent at /refresh. Like any OAuth token
    # endpoint, these answer 400 to a code, state or refresh token that is not (or no longer)
    # good; no schema can say which are.
    schema["components"]["securitySchemes"]["GitHubSignIn"] = {
        "type": "oauth2",
        "description": "Signing in with GitHub in a browser; the editors use the device flow "
        "(`/api/auth/device/start`, then `/api/auth/device/poll`) or `/api/auth/token`.",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "/api/auth/github/login",
                "tokenUrl": "/api/auth/github/callback",
                "refreshUrl": "/api/auth/refresh",
                "scopes": {},
            }
        },
    }
    components = schema["components"].setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    # The ingest body is read by hand for speed; publish its models anyway.
    for model in (IngestEvent, IngestBatch):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    app.openapi_schema = schema
    return schema
