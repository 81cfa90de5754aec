"""What every service gets from stackline_infra: deadlines, error mapping, health, graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stackline_infra.errors import Conflict, NotFound, Unavailable, from_rpc_error
from stackline_infra.grpc_client import open_channel
from stackline_infra.grpc_server import ServiceHost
from tests.support.clocks import HANG_GUARD_SECONDS
from tests.support.local_stack import ROOT

_SLOW = "/test.Slow/Call"


class _Slow(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A service whose one method takes `seconds` to answer (None: never), or raises what it is
    told to. It notes the time each call had left when it arrived, and says when one started."""

    def __init__(self, seconds: float | None, error: Exception | None = None) -> None:
        self.seconds = seconds
        self.error = error
        self.time_remaining: list[float | None] = []
        self.started = asyncio.Event()

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != _SLOW:
            return None

        async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.time_remaining.append(context.time_remaining())
            self.started.set()
            if self.seconds is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(self.seconds)
            if self.error is not None:
                raise self.error
            return b"done"

        return grpc.unary_unary_rpc_method_handler(call)


async def _host(handler: _Slow) -> tuple[ServiceHost, str]:
    host = ServiceHost(
        "plumbing", {"test.Slow": lambda server: server.add_generic_rpc_handlers((handler,))}
    )
    port = host.bind("127.0.0.1:0")
    await host.start()
    return host, f"127.0.0.1:{port}"


async def test_calls_without_a_timeout_get_the_channel_deadline() -> None:
    handler = _Slow(None)
    host, target = await _host(handler)
    try:
        async with open_channel(target, default_deadline=0.3) as channel:
            # The service never answers: only the deadline can end the call.
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await asyncio.wait_for(channel.unary_unary(_SLOW)(b""), HANG_GUARD_SECONDS)
        assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The deadline the call carried, as the server saw it: the channel's 0.3 s, less transit.
        [remaining] = handler.time_remaining
        assert remaining is not None and 0 < remaining <= 0.3
        assert isinstance(from_rpc_error(failed.value), Unavailable)
    finally:
        await host.stop(grace=0)


@pytest.mark.parametrize(
    ("error", "expected", "status"),
    [
        (NotFound("no such thing"), NotFound, grpc.StatusCode.NOT_FOUND),
        (Conflict("taken", field="repo"), Conflict, grpc.StatusCode.ALREADY_EXISTS),
        (RuntimeError("secret internals"), None, grpc.StatusCode.INTERNAL),
    ],
)
async def test_errors_are_mapped_once_each_way(
    error: Exception, expected: type | None, status: grpc.StatusCode
) -> None:
    host, target = await _host(_Slow(0, error))
    try:
        async with open_channel(target, default_deadline=5) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await channel.unary_unary(_SLOW)(b"")
    finally:
        await host.stop(grace=0)
    assert failed.value.code() == status
    mapped = from_rpc_error(failed.value)
    if expected is None:
        # An unexpected error's text stays inside the service.
        assert "secret" not in (failed.value.details() or "")
        assert mapped.http_status == 500
        assert mapped.message == "internal error"
    else:
        assert type(mapped) is expected
        assert mapped.field == getattr(error, "field", None)


def _listed_services(target: str) -> list[str]:
    """What the reflection service at target lists; raises grpc.RpcError where there is none."""
    with grpc.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        [answer] = stub.ServerReflectionInfo(iter([request]), timeout=HANG_GUARD_SECONDS)
    return sorted(s.name for s in answer.list_services_response.service)


@pytest.mark.parametrize("enabled", [False, True])
async def test_reflection_is_served_only_when_enabled(enabled: bool) -> None:
    host = ServiceHost(
        "plumbing", {"test.Slow": lambda server: server.add_generic_rpc_handlers((_Slow(0),))}
    )
    if enabled:
        host.enable_reflection()
    target = f"127.0.0.1:{host.bind('127.0.0.1:0')}"
    await host.start()
    try:
        if enabled:
            listed = await asyncio.to_thread(_listed_services, target)
            assert "test.Slow" in listed and "grpc.health.v1.Health" in listed
        else:
            with pytest.raises(grpc.RpcError) as refused:
                await asyncio.to_thread(_listed_services, target)
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await host.stop(grace=0)


async def test_stop_lets_calls_in_flight_finish() -> None:
    handler = _Slow(0.5)
    host, target = await _host(handler)
    async with open_channel(target, default_deadline=5) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        serving = await health.Check(health_pb2.HealthCheckRequest())
        assert serving.status == health_pb2.HealthCheckResponse.SERVING
        call = channel.unary_unary(_SLOW)

        async def slow_call() -> bytes:
            return await call(b"")  # type: ignore[no-any-return]

        in_flight = asyncio.create_task(slow_call())
        await asyncio.wait_for(handler.started.wait(), HANG_GUARD_SECONDS)
        # stop() returns once the call is done; the grace only bounds how long it may take.
        await host.stop(grace=HANG_GUARD_SECONDS)
        assert await in_flight == b"done"


def test_a_service_process_stops_cleanly_on_sigterm(database_url: str, tmp_path: Path) -> None:
    from tests.support.local_stack import pick_ports

    _, port = pick_ports()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.projects"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "STACKLINE_GRPC_PORT": str(port),
            "STACKLINE_LOG_FORMAT": "text",
            "STACKLINE_ENVIRONMENT": "development",
            "STACKLINE_GRPC_REFLECTION": "true",
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            try:
                response = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            finally:
                channel.close()
            assert time.monotonic() < deadline, "the service never became healthy"
            time.sleep(0.2)
        # The setting reached the server: reflection describes the service.
        assert "stackline.projects.v1.ProjectsService" in _listed_services(f"127.0.0.1:{port}")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "stopping projects" in stderr
