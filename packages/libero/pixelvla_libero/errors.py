"""Typed errors of the harness (LIBERO's side cannot import pixelvla.errors).

Each carries a stable ``code`` like the project's PixelVLAError; the harness CLI prints
``error [code]: message`` and exits 2 instead of a traceback.
"""

from __future__ import annotations


class LiberoError(ValueError):
    default_code = "libero_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class WireError(LiberoError):
    """A policy-stream message could not be (de)serialised."""

    default_code = "invalid_message"


class PolicyError(LiberoError):
    """The policy server refused an observation, closed the stream, or could not be reached."""

    default_code = "policy_error"


class TaskError(LiberoError):
    """An unknown suite, task or init-state index, or a task without a usable target."""

    default_code = "invalid_task"
