"""Liveness, readiness and metrics, for Kubernetes and Prometheus."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.gateway.dependencies import State
from services.gateway.responses import json_response

router = APIRouter(tags=["operations"])

# Readiness must answer fast even when a service hangs.
_CHECK_DEADLINE_SECONDS = 1.0


@router.get("/health", summary="Liveness: the gateway process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: every service answers and reaches the database",
    responses={503: {"description": "Something is not ready; `checks` says what."}},
)
async def ready(state: State) -> Response:
    names = list(state.backends.health)

    async def check(name: str) -> str:
        try:
            response = await state.backends.health[name].Check(
                health_pb2.HealthCheckRequest(), timeout=_CHECK_DEADLINE_SECONDS
            )
        except Exception:  # unreachable, timed out, or not speaking health at all
            return "unreachable"
        # Each service reports NOT_SERVING while its database is unreachable.
        return "ok" if response.status == health_pb2.HealthCheckResponse.SERVING else "not serving"

    results = await asyncio.gather(*(check(name) for name in names))
    checks = dict(zip(names, results, strict=True))
    if all(result == "ok" for result in results):
        return json_response({"status": "ready", "checks": checks})
    return json_response(
        {"status": "not ready", "checks": checks}, status_code=503, headers={"Retry-After": "5"}
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
