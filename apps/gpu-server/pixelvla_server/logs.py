"""Structured logs: one JSON object per line on stderr, so that they can be tailed and parsed.

Secrets never reach the log: browsers cannot set headers on a WebSocket, so tokens travel in query
strings (`?token=`, `?operator_token=`), and uvicorn writes the full path with its query into its
"WebSocket ... [accepted]" and access lines. Every line this formatter writes goes through redact(),
which blanks those query values and Authorization / X-Operator-Token header values.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


REDACTED = "[redacted]"
# Query parameters that carry secrets (security.py reads token and operator_token).
_QUERY = re.compile(r"(?i)([?&;](?:operator_token|api_token|access_token|token)=)[^&#\s\"'\\]*")
# Header values, as a dict/tuple repr or "Name: value" (up to the end of the quoted value or line).
_HEADER = re.compile(
    r"(?i)((?:authorization|x-operator-token|proxy-authorization)[\"']?\s*[:=,]\s*(?:b?[\"'])?)[^\"'`\r\n\\]+"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;\\]+")


def redact(text: str) -> str:
    """Blank the values of token query parameters and of credential headers in a log line."""
    text = _QUERY.sub(lambda m: m.group(1) + REDACTED, text)
    text = _HEADER.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out, default=str))  # the whole line: message, extras, traceback


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").setLevel("WARNING")  # our middleware logs requests


def now_ms() -> float:
    return time.perf_counter() * 1000.0
