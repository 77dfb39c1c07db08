"""One worker thread per device: all model work happens here, never on the event loop.

Pending jobs are keyed by their source (a WebSocket connection, a robot session). A new job from a
source whose previous job has not started yet replaces it: the old one fails with StaleDropped, so a
client that sends faster than the model runs always gets its newest observation served next, and
the queue never holds more than one job per source. A global bound refuses work (Busy) beyond
`max_pending` sources waiting.

Containment: whatever a job raises fails that job's future only; the thread goes on with the next
job (see README "Security", worker isolation, for why a thread and not a process).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import ApiError

log = logging.getLogger("pixelvla_server.policy")
T = TypeVar("T")
M = TypeVar("M")


class StaleDropped(ApiError):
    status = 409
    code = "stale_dropped"


class Busy(ApiError):
    status = 503
    code = "busy"


class NoModel(ApiError):
    status = 503
    code = "model_not_loaded"


@dataclass
class _Job(Generic[M]):
    fn: Callable[[M, float], Any]
    future: Future[Any]
    enqueued: float = field(default_factory=time.perf_counter)


class DeviceWorker(Generic[M]):
    """Runs `fn(model, queued_ms)` jobs one at a time against the current model of one device."""

    def __init__(self, device: str, max_pending: int = 8):
        self.device = device
        self.max_pending = max_pending
        self._model: M | None = None
        self._pending: OrderedDict[Hashable, _Job[M]] = OrderedDict()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"policy-{device}", daemon=True)
        self._thread.start()

    @property
    def model(self) -> M | None:
        return self._model

    def swap(self, model: M) -> M | None:
        """Install a new model; the job in flight finishes on the old one, every later job uses the new one."""
        with self._cond:
            old, self._model = self._model, model
        return old

    def submit(self, key: Hashable, fn: Callable[[M, float], T]) -> Future[T]:
        fut: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise NoModel("the policy worker is shutting down")
            stale = self._pending.pop(key, None)
            if stale is not None:
                self.dropped += 1
                _fail(
                    stale.future, StaleDropped("a newer observation from the same client replaced this one")
                )
            elif len(self._pending) >= self.max_pending:
                raise Busy(
                    f"the policy queue is full ({self.max_pending} clients waiting); try again shortly"
                )
            self._pending[key] = _Job(fn, fut)
            self._cond.notify()
        return fut

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for job in self._pending.values():
                _fail(job.future, NoModel("the server is shutting down"))
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                _, job = self._pending.popitem(last=False)
                model = self._model
            try:
                self._execute(job, model)
            except BaseException:  # never reached by a job's own error; the thread must outlive any bug
                log.exception("policy worker: job bookkeeping failed")
                _fail(job.future, RuntimeError("the policy worker failed on this job"))

    @staticmethod
    def _execute(job: _Job[M], model: M | None) -> None:
        if not job.future.set_running_or_notify_cancel():
            return  # the caller gave up (its connection closed) before the job started
        queued_ms = (time.perf_counter() - job.enqueued) * 1000.0
        try:
            if model is None:
                raise NoModel("no model is loaded yet; see GET /v1/models and POST /v1/models/{id}/load")
            result = job.fn(model, queued_ms)
        except BaseException as exc:  # every failure goes back to the caller, typed or not
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)


def _fail(future: Future[Any], exc: BaseException) -> None:
    """Fail a future that may already be cancelled (asyncio.wrap_future cancels it when the awaiting
    task is cancelled, e.g. its WebSocket closed): set_exception would raise InvalidStateError into
    the next submit() of that source, or into close() at shutdown."""
    with contextlib.suppress(InvalidStateError):
        future.set_exception(exc)
