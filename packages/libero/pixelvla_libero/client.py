"""A client of the GPU server's policy stream (WS ``/v1/policy/stream``, apps/gpu-server/README.md
"Policy stream"), request/response: one observation out, its ``actions`` reply back."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pixelvla_robot import wire  # the one msgpack layout of our side processes (packages/robot-client)
from pixelvla_robot.errors import WireError as LinkWireError

from .errors import PolicyError, WireError

PROTOCOL = "pixelvla.policy.v1"


def stream_url(server: str) -> str:
    """``http://host:port`` or ``ws://host:port[/v1/policy/stream]`` -> the stream's ws URL."""
    url = server.rstrip("/")
    if url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    if not url.startswith(("ws://", "wss://")):
        raise PolicyError(
            f"the policy server URL must be http(s):// or ws(s)://, got {server!r}", "invalid_url"
        )
    return url if url.endswith("/v1/policy/stream") else url + "/v1/policy/stream"


class PolicyClient:
    def __init__(self, server: str, *, api_token: str | None = None, open_timeout: float = 30.0) -> None:
        from websockets.exceptions import InvalidHandshake, WebSocketException
        from websockets.sync.client import connect

        self.url = stream_url(server)
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else None
        try:
            self.ws = connect(self.url, additional_headers=headers, max_size=None, open_timeout=open_timeout)
        except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as e:
            raise PolicyError(
                f"cannot connect to the policy stream at {self.url}: {e}", "policy_unreachable"
            ) from e
        first = self._recv()
        if first.get("type") != "metadata" or first.get("protocol") != PROTOCOL:
            raise PolicyError(f"expected the {PROTOCOL} metadata frame first, got {first.get('type')!r}")
        self.metadata: dict[str, Any] = first
        self._seq = 0
        self.calls = 0
        self.seconds = 0.0

    def _recv(self) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed

        try:
            data = self.ws.recv()
        except ConnectionClosed as e:
            raise PolicyError(f"the policy server closed the stream ({e.rcvd})", "policy_closed") from e
        if isinstance(data, str):
            raise PolicyError("the policy server sent a text frame")
        try:
            msg = wire.unpackb(data)
        except LinkWireError as e:
            raise WireError(str(e)) from e
        if not isinstance(msg, dict):
            raise PolicyError(f"the policy server sent a {type(msg).__name__}, not a map")
        return msg

    @property
    def chunk_size(self) -> int:
        return int(self.metadata.get("chunk_size") or 1)

    def infer(
        self,
        image: np.ndarray,
        instruction: str,
        *,
        state: np.ndarray | None = None,
        prompts: list[dict[str, Any]] | None = None,
        pixel_masks: list[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """One observation -> the model's un-normalised action chunk, float32 (N_c, 7)."""
        self._seq += 1
        obs: dict[str, Any] = {
            "image": np.ascontiguousarray(image, np.uint8),
            "instruction": instruction,
            "seq": self._seq,
        }
        if state is not None:
            obs["state"] = np.asarray(state, np.float32)
        if prompts:
            obs["prompts"] = prompts
        if pixel_masks:
            obs["pixel_masks"] = pixel_masks
        t0 = time.perf_counter()
        try:
            packed = wire.packb(obs)
        except LinkWireError as e:
            raise WireError(str(e)) from e
        self.ws.send(packed)
        while True:
            msg = self._recv()
            kind = msg.get("type")
            if kind == "actions" and msg.get("seq") == self._seq:
                break
            if kind == "error":
                err = msg.get("error") or {}
                raise PolicyError(
                    f"policy server: {err.get('message')}", str(err.get("code") or "policy_error")
                )
            if kind == "dropped":  # only a pipelining client sees this; we send one at a time
                raise PolicyError(f"observation {msg.get('seq')} was dropped by the server")
        if "metadata" in msg:  # the server hot-swapped its model
            self.metadata = {**self.metadata, **msg["metadata"]}
        self.calls += 1
        self.seconds += time.perf_counter() - t0
        actions = np.asarray(msg["actions"], np.float32)
        if actions.ndim != 2 or actions.shape[1] != 7:
            raise PolicyError(f"the policy returned actions of shape {actions.shape}, expected (N, 7)")
        return actions

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
