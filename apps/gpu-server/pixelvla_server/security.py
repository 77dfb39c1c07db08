"""Tokens: an API token for every request (required beyond loopback) and an operator token for actions.

HTTP clients send `Authorization: Bearer <api token>` and `X-Operator-Token: <operator token>`.
Browsers cannot set headers on a WebSocket, so sockets may also pass `?token=` and `?operator_token=`.
Comparisons are constant-time. Reading (runs, datasets, meta) needs only the API token; commanding a
robot and launching/cancelling/deleting runs needs the operator token when one is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from fastapi import Request

from .config import Settings
from .errors import ApiError

# Paths a load balancer or the studio's status dot may read without a token.
OPEN_PATHS = frozenset({"/healthz"})


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def bearer(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_token_ok(settings: Settings, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    if settings.api_token is None:
        return True
    return _same(bearer(headers) or query.get("token"), settings.api_token)


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
