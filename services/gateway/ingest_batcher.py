"""Coalesces concurrent ingest requests into few IngestService calls.

One gRPC call costs more CPU than the HTTP work around it, so events that
arrive while a call is in flight wait for the next one and go together. Each
request still waits for its own event's result, which IngestService sends
only after the batch is committed. At low load a lone event goes at once.

A call carries its request's trace when it holds one request's events; a batch
of several requests gets a trace of its own, and a debug line names the request
traces it joined, so each request can still be followed into IngestService.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from stackline.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from services.gateway.metrics import INGEST_BATCH_EVENTS
from stackline_infra import tracecontext
from stackline_infra.errors import Unavailable

log = logging.getLogger(__name__)

_Waiting = tuple[
    ingest_pb2.Event, "asyncio.Future[ingest_pb2.EventResult]", tracecontext.TraceContext | None
]


class IngestBatcher:
    def __init__(
        self,
        ingest: ingest_pb2_grpc.IngestServiceStub,
        *,
        max_pending: int,
        max_batch: int = 500,
        max_calls_in_flight: int = 2,
    ) -> None:
        self._ingest = ingest
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._max_calls = max_calls_in_flight
        self._waiting: list[_Waiting] = []
        self._calls = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, events: Sequence[ingest_pb2.Event]) -> list[ingest_pb2.EventResult]:
        if len(self._waiting) + len(events) > self._max_pending:
            raise Unavailable("ingest is overloaded, retry shortly", retry_after=1)
        loop = asyncio.get_running_loop()
        trace = tracecontext.current()
        futures = []
        for event in events:
            future: asyncio.Future[ingest_pb2.EventResult] = loop.create_future()
            self._waiting.append((event, future, trace))
            futures.append(future)
        if self._calls < self._max_calls:
            self._send_next()
        return list(await asyncio.gather(*futures))

    def _send_next(self) -> None:
        batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
        batch = [waiting for waiting in batch if not waiting[1].cancelled()]
        if not batch:
            return
        self._calls += 1
        task = asyncio.create_task(self._call(batch, _trace_of(batch)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, batch: list[_Waiting], trace: tracecontext.TraceContext) -> None:
        try:
            INGEST_BATCH_EVENTS.observe(len(batch))
            with tracecontext.use(trace):
                response = await self._ingest.IngestEvents(
                    ingest_pb2.IngestEventsRequest(events=[event for event, _, _ in batch])
                )
            for (_, future, _), result in zip(batch, response.results, strict=True):
                if not future.done():
                    future.set_result(result)
        except Exception as exc:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._calls -= 1
            if self._waiting and self._calls < self._max_calls:
                self._send_next()

    async def drain(self) -> None:
        """Wait for the calls in flight, at shutdown."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _trace_of(batch: list[_Waiting]) -> tracecontext.TraceContext:
    traces = {trace.trace_id: trace for _, _, trace in batch if trace is not None}
    if len(traces) == 1:
        return next(iter(traces.values()))
    trace = tracecontext.new()
    if traces:
        log.debug(
            "ingest batch %s carries the events of requests %s",
            trace.trace_id,
            ", ".join(traces),
            extra={"trace_id": trace.trace_id},
        )
    return trace
