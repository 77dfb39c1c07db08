"""The robot side of the remote robot link: connect, announce, stream, execute, and the dead man.

`RobotClient(server, adapter, name=...)`: `connect()` opens WS <server>/v1/remote-robots/connect,
sends the robot's `hello` and waits for the server's `welcome` (typed errors for a bad URL, refused
tokens, another protocol version); `run()` then drives the robot until the link ends:

- a reader thread takes the server's messages (`act`, `stop`, `reset`, `heartbeat`) off the socket
  and notes when it last heard anything;
- the calling thread owns the adapter (robot SDKs and GL contexts are bound to one thread): it
  executes each action, answers with an observation, streams observations at the robot's control
  rate, and checks the dead man every SLICE_S: when the server has said nothing for `deadman_ms`
  while the robot moves, it stops the robot itself. A lost link (the server killed, the network
  gone) stops it at once.

The server sends a heartbeat every deadman_ms / 4, so a quiet link means a server or network that is
gone or frozen, never an idle one. Each wake-up of the loop is timed: how late it ran past its slice
(`jitter_max_ms`) is reported with every dead-man stop, to tell a slow robot process from a quiet link.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from . import wire
from .adapter import Adapter, RobotSpec, check_action
from .errors import (
    AuthRefused,
    BadAction,
    BadServerUrl,
    LinkLost,
    NameTaken,
    ProtocolMismatch,
    RobotClientError,
)

PROTOCOL = "pixelvla.robot.v1"
PATH = "/v1/remote-robots/connect"
SLICE_S = 0.01
DEFAULT_DEADMAN_MS = 300
# Robot-side bounds on the dead-man window: below 50 ms one late server timer stops the robot, above
# 2 s a robot runs on for seconds after its server is gone.
DEADMAN_MIN_MS, DEADMAN_MAX_MS = 50, 2000
Event = dict[str, Any]
_CLOSE_ERRORS: dict[int, type[RobotClientError]] = {
    1008: AuthRefused,
    4403: AuthRefused,
    4409: NameTaken,
    4426: ProtocolMismatch,
}
# The server's typed refusals of a hello (an error frame before it closes the link).
_REFUSALS: dict[str, type[RobotClientError]] = {
    "robot_name_taken": NameTaken,
    "protocol_mismatch": ProtocolMismatch,
}
_LOST = object()


def connect_url(server: str) -> str:
    """ws(s)://host:port[/path] for a server given as ws(s):// or http(s):// (no path: the endpoint)."""
    if not isinstance(server, str) or not server:
        raise BadServerUrl("the server URL is empty; pass e.g. ws://127.0.0.1:8000")
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise BadServerUrl(f"{server!r} is not a server URL; pass ws://host:port (or http://host:port)")
    try:
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as exc:
        raise BadServerUrl(f"{server!r} has an invalid port") from exc
    path = parts.path if parts.path not in ("", "/") else PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _jpeg(image: np.ndarray, quality: int) -> bytes | np.ndarray:
    try:
        from PIL import Image
    except ImportError:  # no Pillow in this environment: raw frames (the server takes both)
        return image
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class RobotClient:
    def __init__(
        self,
        server: str,
        adapter: Adapter,
        *,
        name: str,
        api_token: str | None = None,
        operator_token: str | None = None,
        deadman_ms: float = DEFAULT_DEADMAN_MS,
        jpeg_quality: int = 85,
        on_event: Callable[[Event], None] | None = None,
        open_timeout: float = 10.0,
    ):
        if not DEADMAN_MIN_MS <= deadman_ms <= DEADMAN_MAX_MS:
            raise ValueError(f"deadman_ms must be in [{DEADMAN_MIN_MS}, {DEADMAN_MAX_MS}], got {deadman_ms}")
        self.url = connect_url(server)
        self.adapter = adapter
        self.name = name
        self.api_token = api_token
        self.operator_token = operator_token
        self.deadman_s = deadman_ms / 1000.0
        self.jpeg_quality = jpeg_quality
        self.on_event = on_event or (lambda _ev: None)
        self.open_timeout = open_timeout
        self.spec: RobotSpec = adapter.spec()
        self.welcome: dict[str, Any] = {}
        self._ws: Any = None
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._last_heard = 0.0
        self._closed = threading.Event()
        self.jitter_max_ms = 0.0  # how late the loop woke past its slice, at most
        self.check_gap_max_ms = 0.0  # longest time between two dead-man checks while moving
        self.stops: list[Event] = []

    # ---- connecting -------------------------------------------------------------------------------
    def connect(self) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        headers = {}
        if self.api_token:
            headers["Authorization"] = f"Bearer {self.api_token}"
        if self.operator_token:
            headers["X-Operator-Token"] = self.operator_token
        options: dict[str, Any] = {
            "additional_headers": headers,
            "open_timeout": self.open_timeout,
            "max_size": wire.MAX_BYTES,
        }
        try:
            try:  # websockets >= 15 wants legacy=True for a connection kept open past one `with`
                ws = connect(self.url, legacy=True, **options)
            except TypeError:
                ws = connect(self.url, **options)
        except InvalidURI as exc:
            raise BadServerUrl(f"{self.url!r} is not a valid WebSocket URL: {exc}") from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise AuthRefused(f"the server refused the API token (HTTP {status})") from exc
            # The server accepts every handshake at its endpoint and refuses tokens after it (close
            # 1008/4403), so an HTTP refusal here means there is no such endpoint (Starlette: 403).
            raise ProtocolMismatch(
                f"HTTP {status} at {self.url}: not a PixelVLA server with remote robots (or an older one)"
            ) from exc
        except InvalidHandshake as exc:
            raise ProtocolMismatch(f"{self.url} did not complete a WebSocket handshake: {exc}") from exc
        except (OSError, TimeoutError) as exc:
            raise BadServerUrl(f"nothing answers at {self.url}: {exc}") from exc
        hello = {
            "type": "hello",
            "protocol": PROTOCOL,
            "name": self.name,
            "deadman_ms": self.deadman_s * 1000,
        }
        try:
            ws.send(wire.packb({**hello, **self.spec.to_json()}))
            first = ws.recv(timeout=self.open_timeout)
            reply = wire.unpackb(first) if isinstance(first, bytes) else first
        except ConnectionClosed as exc:
            close = exc.rcvd.code if exc.rcvd is not None else 1006
            reason = exc.rcvd.reason if exc.rcvd is not None else "closed without a reason"
            raise _CLOSE_ERRORS.get(close, RobotClientError)(
                f"the server closed the link ({close}): {reason}"
            ) from exc
        except TimeoutError as exc:
            ws.close()
            raise ProtocolMismatch(f"no welcome from {self.url} within {self.open_timeout} s") from exc
        if isinstance(reply, dict) and reply.get("type") == "error" and isinstance(reply.get("error"), dict):
            ws.close()
            code, message = str(reply["error"].get("code")), str(reply["error"].get("message"))
            raise _REFUSALS.get(code, RobotClientError)(f"the server refused the robot: {message}", code)
        if not isinstance(reply, dict) or reply.get("type") != "welcome":
            ws.close()
            raise ProtocolMismatch(f"expected the server's welcome, got {str(reply)[:200]}")
        if reply.get("protocol") != PROTOCOL:
            ws.close()
            raise ProtocolMismatch(f"the server speaks {reply.get('protocol')!r}, this client {PROTOCOL!r}")
        self._ws = ws
        self.welcome = reply
        self._last_heard = time.monotonic()
        self.on_event({"event": "connected", "t": self._last_heard, "url": self.url, **reply})
        return reply

    # ---- running ----------------------------------------------------------------------------------
    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        ws = self._ws
        try:
            while True:
                data = ws.recv()
                self._last_heard = time.monotonic()
                if isinstance(data, str):
                    continue
                try:
                    msg = wire.unpackb(data)
                except RobotClientError as exc:
                    self._inbox.put({"type": "_bad", "error": exc.message})
                    continue
                if isinstance(msg, dict) and msg.get("type") != "heartbeat":
                    self._inbox.put(msg)
        except (ConnectionClosed, OSError) as exc:
            self._inbox.put((_LOST, f"{type(exc).__name__}: {exc}"))

    def _send(self, msg: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self._ws.send(wire.packb(msg))
        except (ConnectionClosed, OSError) as exc:
            self._inbox.put((_LOST, f"sending: {type(exc).__name__}: {exc}"))

    def _observation(self, **extra: Any) -> dict[str, Any]:
        obs = self.adapter.observe()
        out = {
            "type": "observation",
            "t": float(obs.get("t", 0.0)),
            "images": {k: _jpeg(v, self.jpeg_quality) for k, v in obs["images"].items()},
            "state": np.asarray(obs["state"], dtype=np.float32),
            **extra,
        }
        if obs.get("camera_models"):
            out["camera_models"] = obs["camera_models"]
        if isinstance(obs.get("success"), bool | np.bool_):  # the task's own judge, when it has one
            out["success"] = bool(obs["success"])
        return out

    def _stop(self, reason: str, now: float, **detail: Any) -> None:
        """Stop the robot; the event's `t` is when the stop was decided and sent to the robot,
        `done_t` when the adapter's stop() returned."""
        self.adapter.stop()
        ev = {
            "event": "stop",
            "reason": reason,
            "t": now,
            "done_t": time.monotonic(),
            "last_heard": self._last_heard,
            "silent_ms": (now - self._last_heard) * 1000.0,
            "deadman_ms": self.deadman_s * 1000.0,
            "jitter_max_ms": self.jitter_max_ms,
            "check_gap_max_ms": self.check_gap_max_ms,
            **detail,
        }
        self.stops.append(ev)
        self.on_event(ev)

    def run(self) -> str:
        """Drive the robot until the link ends or `close()`; returns why it ended. The robot is
        stopped on the way out, whatever ended it."""
        if self._ws is None:
            self.connect()
        threading.Thread(target=self._read, name="robot-link-reader", daemon=True).start()
        period = 1.0 / self.spec.control_hz
        next_obs = last_check = time.monotonic()
        moving = False
        ended = "closed"
        try:
            while not self._closed.is_set():
                now = time.monotonic()
                wait = max(0.0, min(SLICE_S, next_obs - now))
                try:
                    item = self._inbox.get(timeout=wait)
                except queue.Empty:
                    item = None
                    late = time.monotonic() - (now + wait)
                    self.jitter_max_ms = max(self.jitter_max_ms, late * 1000.0)
                now = time.monotonic()
                gap, last_check = now - last_check, now
                if moving and now - self._last_heard > self.deadman_s:
                    self._stop("deadman", now, check_gap_ms=gap * 1000.0)
                    moving = False
                elif moving:
                    self.check_gap_max_ms = max(self.check_gap_max_ms, gap * 1000.0)
                if isinstance(item, tuple) and item[0] is _LOST:
                    ended = f"link lost ({item[1]})"
                    if moving:
                        self._stop("link lost", now, detail=item[1])
                        moving = False
                    break
                if isinstance(item, dict):
                    moving = self._handle(item, moving)
                    next_obs = time.monotonic() + period
                    continue
                if now >= next_obs:
                    self._send(self._observation())
                    next_obs = max(next_obs + period, now)
        finally:
            if moving:
                self._stop("client closed", time.monotonic())
            self.close()
        return ended

    def _handle(self, msg: dict[str, Any], moving: bool) -> bool:
        """One server message; returns whether the robot is moving after it."""
        kind, seq = msg.get("type"), msg.get("seq")
        if kind == "act":
            try:
                action = check_action(self.spec, msg.get("action"))
            except BadAction as exc:
                self._send({"type": "error", "seq": seq, "error": {"code": exc.code, "message": exc.message}})
                return moving
            applied = np.asarray(self.adapter.act(action), dtype=np.float32)
            self.on_event({"event": "acted", "t": time.monotonic(), "seq": seq})
            self._send(self._observation(acted=seq, applied=applied))
            return True
        if kind == "stop":
            self.adapter.stop()
            if moving:
                self.on_event({"event": "stopped", "t": time.monotonic(), "by": "server"})
            self._send(self._observation(stopped=seq))
            return False
        if kind == "reset":
            task, ep_seed = msg.get("task"), msg.get("seed")
            if not isinstance(task, str) or not isinstance(ep_seed, int) or isinstance(ep_seed, bool):
                self._send(
                    {
                        "type": "error",
                        "seq": seq,
                        "error": {"code": "invalid_command", "message": "reset needs task and seed"},
                    }
                )
                return moving
            self.adapter.stop()
            try:
                self.adapter.reset(task, ep_seed)
            except Exception as exc:  # the robot's own error about this episode: the server is told
                self._send(
                    {"type": "error", "seq": seq, "error": {"code": "reset_failed", "message": str(exc)}}
                )
                return False
            self._send(self._observation(reset=seq))
            return False
        if kind == "_bad":
            self._send({"type": "error", "error": {"code": "invalid_message", "message": msg["error"]}})
            return moving
        if kind == "error":
            self.on_event({"event": "server_error", "t": time.monotonic(), "error": msg.get("error")})
        return moving

    def close(self) -> None:
        self._closed.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()


__all__ = ["DEFAULT_DEADMAN_MS", "PROTOCOL", "LinkLost", "RobotClient", "connect_url"]
