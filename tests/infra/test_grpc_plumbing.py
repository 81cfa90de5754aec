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
from prometheus_client import REGISTRY

from stackline_infra.db.engine import create_engine
from stackline_infra.errors import Conflict, NotFound, Unavailable, from_rpc_error
from stackline_infra.grpc_client import open_channel
from stackline_infra.grpc_server import LIVENESS_SERVICE, ServiceHost
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


def _calls_counted(code: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "stackline_plumbing_rpc_requests_total", {"method": "Call", "code": code}
        )
        or 0.0
    )


async def _until_counted(code: str, before: float) -> None:
    # The server records the call after the client has its answer, and a Prometheus counter
    # notifies no one: look again until it moves, under the hang guard.
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        while _calls_counted(code) == before:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_call_cut_by_its_deadline_is_counted_as_deadline_exceeded() -> None:
    host, target = await _host(_Slow(None))
    before = {code: _calls_counted(code) for code in ("OK", "DEADLINE_EXCEEDED")}
    try:
        async with open_channel(target, default_deadline=0.2) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await asyncio.wait_for(channel.unary_unary(_SLOW)(b""), HANG_GUARD_SECONDS)
        await _until_counted("DEADLINE_EXCEEDED", before["DEADLINE_EXCEEDED"])
    finally:
        await host.stop(grace=0)
    assert _calls_counted("DEADLINE_EXCEEDED") == before["DEADLINE_EXCEEDED"] + 1
    assert _calls_counted("OK") == before["OK"]


async def test_a_call_the_client_abandons_is_counted_as_cancelled() -> None:
    handler = _Slow(None)
    host, target = await _host(handler)
    before = {code: _calls_counted(code) for code in ("OK", "CANCELLED")}
    try:
        async with open_channel(target, default_deadline=HANG_GUARD_SECONDS) as channel:
            call = channel.unary_unary(_SLOW)(b"")
            await asyncio.wait_for(handler.started.wait(), HANG_GUARD_SECONDS)
            call.cancel()
            await _until_counted("CANCELLED", before["CANCELLED"])
    finally:
        await host.stop(grace=0)
    assert _calls_counted("CANCELLED") == before["CANCELLED"] + 1
    assert _calls_counted("OK") == before["OK"]


class _Flaky(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Answers UNAVAILABLE to the first `failures` calls of each method, then b"done"; counts
    the calls that reached it."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method

        async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.calls[method] = self.calls.get(method, 0) + 1
            if self.calls[method] <= self.failures:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
            return b"done"

        return grpc.unary_unary_rpc_method_handler(call)


async def _flaky_host(handler: _Flaky) -> tuple[ServiceHost, int]:
    host = ServiceHost("flaky", {"test.Flaky": lambda s: s.add_generic_rpc_handlers((handler,))})
    port = host.bind("127.0.0.1:0")
    await host.start()
    return host, port


async def test_only_calls_named_safe_are_retried_on_unavailable() -> None:
    handler = _Flaky(failures=1)
    host, port = await _flaky_host(handler)
    try:
        async with open_channel(
            f"127.0.0.1:{port}", default_deadline=5, retryable_methods=["test.Flaky/Read"]
        ) as channel:
            answer = await asyncio.wait_for(
                channel.unary_unary("/test.Flaky/Read")(b""), HANG_GUARD_SECONDS
            )
            assert answer == b"done"
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await asyncio.wait_for(
                    channel.unary_unary("/test.Flaky/Create")(b""), HANG_GUARD_SECONDS
                )
    finally:
        await host.stop(grace=0)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert handler.calls == {"/test.Flaky/Read": 2, "/test.Flaky/Create": 1}


async def test_calls_are_spread_over_every_address_of_the_name() -> None:
    first, second = _Flaky(failures=0), _Flaky(failures=0)
    (host_a, port_a), (host_b, port_b) = await _flaky_host(first), await _flaky_host(second)
    try:
        # What a headless Service's DNS name gives: several addresses for one target.
        target = f"ipv4:127.0.0.1:{port_a},127.0.0.1:{port_b}"
        async with open_channel(target, default_deadline=5) as channel:
            await asyncio.wait_for(channel.channel_ready(), HANG_GUARD_SECONDS)
            for _ in range(20):
                await asyncio.wait_for(
                    channel.unary_unary("/test.Flaky/Read")(b""), HANG_GUARD_SECONDS
                )
    finally:
        await host_a.stop(grace=0)
        await host_b.stop(grace=0)
    # pick_first would send all twenty to one replica.
    assert first.calls["/test.Flaky/Read"] > 0
    assert second.calls["/test.Flaky/Read"] > 0
    assert first.calls["/test.Flaky/Read"] + second.calls["/test.Flaky/Read"] == 20


async def test_a_database_outage_makes_a_service_unready_but_not_dead() -> None:
    # Nothing listens on port 1: every database probe fails.
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    host = ServiceHost(
        "plumbing",
        {"test.Slow": lambda server: server.add_generic_rpc_handlers((_Slow(0),))},
        engine=engine,
        database_probe_seconds=0.2,
    )
    target = f"127.0.0.1:{host.bind('127.0.0.1:0')}"
    await host.start()
    try:
        async with open_channel(target, default_deadline=HANG_GUARD_SECONDS) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            readiness = await health.Check(health_pb2.HealthCheckRequest(service=""))
            liveness = await health.Check(health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE))
    finally:
        await host.stop(grace=0)
        await engine.dispose()
    assert readiness.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert liveness.status == health_pb2.HealthCheckResponse.SERVING
