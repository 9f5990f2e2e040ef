"""Invocation records, taken where every invocation ends: in the environment, whoever asked for it.

`RecordedEnvironment` is the platform's Environment with one addition: when an invoke returns, its REPORT
figures become an InvocationRecord handed to a `RecordSink`, which batches them to the state database's
writer thread (a list append on the invoke's path; the SQL runs elsewhere). The invocation type comes from
a context variable the front door sets (asyncio copies it into the pool's task).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.platform.environment import Environment
from coldlab.platform.result import InvocationResult
from coldlab.store import records
from coldlab.store.db import Writer
from coldlab.store.records import InvocationRecord

FLUSH_S = 0.2  # a record reaches the database at most this long after its invoke ended
FLUSH_MAX = 500  # or as soon as this many wait

invocation_type: contextvars.ContextVar[str] = contextvars.ContextVar(
    "coldlab_invocation_type", default="RequestResponse"
)


class RecordSink:
    """Collects records; hands them to the writer in batches."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._pending: list[InvocationRecord] = []
        self._timer: asyncio.TimerHandle | None = None
        self.written = 0  # updated by the writer thread once committed
        self.failed = 0
        self.last_error: str | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, record: InvocationRecord) -> None:
        self._pending.append(record)
        if self._closed or len(self._pending) >= FLUSH_MAX:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._writer.submit(lambda conn: records.insert(conn, batch), self._done)

    def close(self) -> None:
        """Flush what waits; later records (environments shutting down) are flushed one batch each."""
        self._closed = True
        self.flush()

    def _done(self, written: Any, error: BaseException | None) -> None:  # in the writer thread
        if error is None:
            self.written += int(written)
        else:
            self.failed += 1
            self.last_error = str(error)


class RecordedEnvironment(Environment):
    """An Environment whose every invocation is recorded."""

    def __init__(self, config: FunctionConfig, *, sink: RecordSink, **options: Any) -> None:
        super().__init__(config, **options)
        self._sink = sink
        self._kind = str(options.get("initialization_type", "on-demand"))

    async def invoke(self, payload: bytes, **options: Any) -> InvocationResult:
        """Environment.invoke (whatever options it takes), then the record."""
        started = time.time()
        result = await super().invoke(payload, **options)
        config = self.config
        self._sink.add(
            InvocationRecord(
                request_id=result.request_id,
                function=config.function_name,
                version=config.version,
                invocation_type=invocation_type.get(),
                environment_id=self.id,
                initialization_type=self._kind,
                cold=result.cold,
                init_ms=result.init_duration_ms,
                duration_ms=result.duration_ms,
                billed_ms=result.billed_duration_ms,
                memory_mb=result.memory_size_mb,
                max_memory_mb=result.max_memory_used_mb,
                status=result.status,
                error_type=result.error_type,
                architecture=config.architecture,
                started_at=started,
                ended_at=time.time(),
                emf=records.emf_json(result.emf),
            )
        )
        return result
