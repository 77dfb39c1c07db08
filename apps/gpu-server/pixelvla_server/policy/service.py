"""The model registry (bundle folders by id), loading + warm-up, hot-swap, and the predict job.

Default model at start: --model ID, else `demo` when present, else `random-tiny`; when the registry
has no bundle at all, the server writes a randomly initialised tiny bundle to
<data-dir>/models/random-tiny (pixelvla.checkpoint.make_random_tiny_bundle) so the studio always has
something to talk to. Loading happens on a helper thread; the swap is atomic for the worker, so
open WebSocket connections keep going and see the new model on their next reply.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pixelvla.errors import PixelVLAError

from ..config import Settings
from ..errors import ApiError, Conflict, decoding
from ..ids import list_model_dirs, model_dir, written_models_root
from .codec import FrameLoader, InvalidObservation, to_observation
from .worker import DeviceWorker, NoModel

log = logging.getLogger("pixelvla_server.policy")
RANDOM_TINY = "random-tiny"


@dataclass(frozen=True)
class LoadedPolicy:
    id: str  # registry id (folder name)
    policy: Any  # pixelvla.policy.Policy
    metadata: dict[str, Any]  # policy.metadata plus "id"
    loaded_at: float


@dataclass(frozen=True)
class PredictResult:
    actions: np.ndarray
    actions_normalized: np.ndarray
    timing_ms: dict[str, float]
    model: LoadedPolicy
    grounding: dict[str, Any] | None = None  # pixelvla.policy.Prediction.grounding


def load_policy(settings: Settings, model_id: str, device: str) -> LoadedPolicy:
    from pixelvla.policy import Observation, Policy

    path = model_dir(settings, model_id)
    t0 = time.perf_counter()
    policy = Policy.load(path, device=device, backend=settings.policy_backend)
    meta = dict(policy.metadata)
    size = int(meta.get("image_size", 224))
    # Warm-up: first calls allocate, autotune and fill caches; do it before clients see the model.
    for _ in range(2):
        policy.predict(Observation(image=np.zeros((size, size, 3), np.uint8), instruction="warm up"))
    meta["id"] = model_id
    log.info("model loaded", extra={"model": model_id, "ms": round((time.perf_counter() - t0) * 1000)})
    return LoadedPolicy(model_id, policy, meta, time.time())


def default_model_id(settings: Settings) -> str:
    if settings.model:
        return settings.model
    found = list_model_dirs(settings)
    if "demo" in found:
        return "demo"
    if RANDOM_TINY not in found:
        from pixelvla.checkpoint import make_random_tiny_bundle

        out = written_models_root(settings) / RANDOM_TINY
        out.parent.mkdir(parents=True, exist_ok=True)
        make_random_tiny_bundle(out, seed=0)
        log.info("no model bundle found; wrote a random tiny bundle", extra={"path": str(out)})
    return RANDOM_TINY


class _FrameLoadFailed(Exception):
    """Carries an untyped failure of the frame loader (reading the server's datasets) past the
    client-input mapping in the predict job, which would otherwise call it the client's fault."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def _server_side(loader: FrameLoader | None) -> FrameLoader | None:
    if loader is None:
        return None

    def load(ref: Mapping[str, Any]) -> np.ndarray:
        try:
            return loader(ref)
        except (ApiError, PixelVLAError):
            raise
        except Exception as exc:
            raise _FrameLoadFailed(exc) from exc

    return load


class PolicyService:
    def __init__(self, settings: Settings, device: str):
        self.settings = settings
        self.device = device
        self.worker: DeviceWorker[LoadedPolicy] = DeviceWorker(device, settings.predict_queue)
        self.loading: str | None = None
        self.load_error: str | None = None
        self._load_lock = threading.Lock()
        self.frame_loader: FrameLoader | None = None

    @property
    def current(self) -> LoadedPolicy | None:
        return self.worker.model

    def load(self, model_id: str) -> LoadedPolicy:
        """Blocking: load + warm up, then swap. One load at a time."""
        if not self._load_lock.acquire(blocking=False):
            raise Conflict(
                f"model {self.loading} is being loaded; try again when it is ready", code="model_loading"
            )
        try:
            self.loading = model_id
            loaded = load_policy(self.settings, model_id, self.device)
            self.worker.swap(loaded)
            self.load_error = None
            return loaded
        except ApiError:
            raise
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model load failed", extra={"model": model_id})
            raise ApiError(
                f"model {model_id!r} failed to load: {self.load_error}", code="model_load_failed", status=500
            ) from exc
        finally:
            self.loading = None
            self._load_lock.release()

    def load_default(self) -> None:
        try:
            self.load(default_model_id(self.settings))
        except Exception as exc:  # the server stays up without a model; /v1/meta says why
            self.load_error = self.load_error or f"{type(exc).__name__}: {exc}"
            log.exception("default model failed to load")

    def close(self) -> None:
        self.worker.close()

    def _job(self, obs: Mapping[str, Any] | object) -> Any:
        loader = _server_side(self.frame_loader)

        def job(model: LoadedPolicy, queued_ms: float) -> PredictResult:
            t0 = time.perf_counter()
            try:
                with decoding("the observation", "invalid_observation", InvalidObservation):
                    observation = to_observation(obs, loader, spec=model.policy.spec)
            except _FrameLoadFailed as exc:
                raise exc.cause from None  # the server's own data: not the client's fault
            t1 = time.perf_counter()
            pred = model.policy.predict(observation)
            t2 = time.perf_counter()
            timing = {k: float(v) for k, v in dict(pred.timing_ms).items()}
            timing.update(queue=queued_ms, server_decode=(t1 - t0) * 1000.0, forward=(t2 - t1) * 1000.0)
            return PredictResult(
                np.asarray(pred.actions, np.float32),
                np.asarray(pred.actions_normalized, np.float32),
                timing,
                model,
                pred.grounding,
            )

        return job

    def _check_loaded(self) -> None:
        if self.worker.model is None:
            raise NoModel(
                "no model is loaded yet"
                + (f" ({self.loading} is loading)" if self.loading else "")
                + (f"; last load failed: {self.load_error}" if self.load_error else "")
            )

    async def predict(self, key: Hashable, obs: Mapping[str, Any] | object) -> PredictResult:
        """Validate + decode + forward on the worker thread; the event loop only awaits."""
        self._check_loaded()
        return await asyncio.wrap_future(self.worker.submit(key, self._job(obs)))

    def predict_blocking(self, key: Hashable, obs: Mapping[str, Any], timeout: float = 10.0) -> PredictResult:
        """For threads that are not the event loop (robot control loops)."""
        self._check_loaded()
        return self.worker.submit(key, self._job(obs)).result(timeout=timeout)
