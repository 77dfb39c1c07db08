"""The server's edge: tokens, the Origin check and the request body limit.

Tokens: an API token for every request (required beyond loopback) and an operator token for actions.
HTTP clients send `Authorization: Bearer <api token>` and `X-Operator-Token: <operator token>`;
`Authorization: Api-Key <api token>` (what openpi-client's WebsocketClientPolicy(api_key=...) sends) is
accepted as the same API token.
Browsers cannot set headers on a WebSocket, so sockets may also pass `?token=` and `?operator_token=`.
Comparisons are constant-time. Reading (runs, datasets, meta) needs only the API token; commanding a
robot and launching/cancelling/deleting runs needs the operator token when one is configured.

Origin: tokens alone do not stop a web page that the operator happens to open. In the default setup
(loopback, no tokens) any page could open a robot's WebSocket or send a "simple" cross-origin POST
(text/plain needs no CORS preflight, and CORS never applies to WebSockets). Browsers always send
`Origin` on those, so every WebSocket handshake and every state-changing request must come from the
studio (settings.studio_origins) or from the server's own origin; a request without Origin is not a
browser's cross-origin request (curl, Python, openpi-client) and stays allowed.

Body limit: Content-Length can be absent (chunked transfer), so the limit is enforced on the bytes the
app actually reads, never buffering more than the limit.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings, is_loopback
from .errors import ApiError, PayloadTooLarge

# Paths a load balancer or the studio's status dot may read without a token.
OPEN_PATHS = frozenset({"/healthz"})


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def header_token(headers: Mapping[str, str]) -> str | None:
    """The API token of `Authorization: Bearer <token>` or openpi's `Authorization: Api-Key <token>`."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("bearer", "api-key") and value.strip():
        return value.strip()
    return None


def api_token_ok(settings: Settings, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    if settings.api_token is None:
        return True
    return _same(header_token(headers) or query.get("token"), settings.api_token)


def operator_ok(settings: Settings, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    if settings.operator_token is None:
        return True
    return _same(headers.get("x-operator-token") or query.get("operator_token"), settings.operator_token)


def require_operator(request: Request) -> None:
    """FastAPI dependency for routes that move a robot or spend compute."""
    settings: Settings = request.app.state.studio.settings
    if not operator_ok(settings, request.headers, request.query_params):
        raise Forbidden(
            "this action needs the operator token: send it in the X-Operator-Token header",
            code="operator_token_required",
        )


# ---- Origin ------------------------------------------------------------------------------------------

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class OriginNotAllowed(ApiError):
    status = 403
    code = "origin_not_allowed"


def _norm(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(settings: Settings, headers: Mapping[str, str]) -> bool:
    """True for no Origin (not a browser), a studio origin, or the server's own origin.

    Own origin means the Origin's host:port is the Host the request was sent to: a page served by this
    server (/docs) or by a proxy that forwards Host unchanged (the studio's Vite dev/preview proxy,
    `changeOrigin: false` in apps/web/vite.config.ts, on whatever port it runs). Without an API token
    that Host must also be a loopback name: otherwise a DNS-rebinding page (evil.example resolving to
    127.0.0.1) would be "same origin" with itself. With an API token a page cannot authenticate anyway.
    """
    origin = headers.get("origin")
    if origin is None:
        return True
    allowed = {_norm(o) for o in settings.studio_origins}
    if "*" in allowed or _norm(origin) in allowed:
        return True
    host = headers.get("host", "").strip().lower()
    try:
        netloc = urlsplit(origin.strip()).netloc.lower()
        hostname = urlsplit("//" + host).hostname or ""
    except ValueError:  # a malformed Origin or Host (bad port, bad IPv6 literal)
        return False
    return bool(host) and netloc == host and (settings.api_token is not None or is_loopback(hostname))


def _origin_refusal(headers: Headers) -> OriginNotAllowed:
    return OriginNotAllowed(
        f"requests from origin {headers.get('origin', '')[:200]!r} are not allowed; the studio's origins "
        "are set with --studio-origin (clients that are not browsers send no Origin)"
    )


# ---- the edge middleware -----------------------------------------------------------------------------

log = logging.getLogger("pixelvla_server")


class BodyTooLarge(StarletteHTTPException):
    """Raised from receive() once the body read so far exceeds the limit. An HTTPException so that
    FastAPI's body parsing re-raises it instead of wrapping it in a 400; Edge answers 413 either way."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


def _json_response(err: ApiError, extra_headers: list[tuple[bytes, bytes]] | None = None) -> list[Message]:
    body = json.dumps(err.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return [
        {"type": "http.response.start", "status": err.status, "headers": headers + (extra_headers or [])},
        {"type": "http.response.body", "body": body},
    ]


class Edge:
    """Pure ASGI middleware (BaseHTTPMiddleware cannot police receive()): for HTTP, the body limit on
    Content-Length and on the bytes read, the Origin check for state-changing methods, the API token,
    and the access log line (path only: query strings can carry tokens); for WebSockets, the Origin
    check on the handshake (HTTP 403 before accept; routes check tokens after accept)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if origin_allowed(self.settings, headers):
            await self.app(scope, receive, send)
            return
        log.warning(
            "websocket refused", extra={"path": scope.get("path"), "origin": headers.get("origin", "")[:200]}
        )
        message = await receive()  # websocket.connect
        if message["type"] == "websocket.connect":
            # Close before accept: the server answers the handshake with HTTP 403. (A typed body via the
            # websocket.http.response extension is unreadable to a page's WebSocket API, and uvicorn
            # logs an error for every such denial.)
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        status = 0

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                for m in refusal:
                    await send_logged(m)
                return
            await self._limited(scope, receive, send_logged)
        except BaseException:
            status = status or 500
            raise
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - t0) * 1000, 2),
                },
            )

    def _refusal(self, scope: Scope) -> list[Message] | None:
        settings = self.settings
        headers = Headers(scope=scope)
        method = scope["method"]
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_request_bytes:
            return _json_response(
                PayloadTooLarge(
                    f"request body of {length} bytes exceeds the limit of {settings.max_request_bytes}"
                )
            )
        if method in STATE_CHANGING and not origin_allowed(settings, headers):
            log.warning(
                "request refused", extra={"path": scope["path"], "origin": headers.get("origin", "")[:200]}
            )
            return _json_response(_origin_refusal(headers))
        query = QueryParams(scope.get("query_string", b""))
        if (
            method != "OPTIONS"
            and scope["path"] not in OPEN_PATHS
            and not api_token_ok(settings, headers, query)
        ):
            err = ApiError(
                "missing or wrong API token: send `Authorization: Bearer <token>`",
                code="unauthorized",
                status=401,
            )
            return _json_response(err, [(b"www-authenticate", b"Bearer")])
        return None

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a receive() that counts body bytes. Past the limit receive() raises, the
        app's own answer (whatever it makes of the exception) is dropped and the answer is a 413."""
        limit = self.settings.max_request_bytes
        read = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal read, over
            if over:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    over = True  # this chunk goes no further: at most `limit` bytes were handed on
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            err = PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            for m in _json_response(err):  # uvicorn reads and discards the rest of the body
                await send(m)
