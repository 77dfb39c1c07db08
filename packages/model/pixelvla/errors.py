"""Typed errors shared by every part of PixelVLA.

Every error a user (or a client over the wire) can trigger derives from :class:`PixelVLAError`,
which is a ``ValueError`` so generic callers still catch it, and carries a stable snake_case
``code`` that servers put into their JSON error bodies and the studio switches on.
Other modules define their own subclasses (DatasetError, CheckpointError, ...) next to their code.
"""

from __future__ import annotations

from typing import ClassVar


class PixelVLAError(ValueError):
    """Base class: a clear message plus a stable machine-readable ``code``."""

    default_code: ClassVar[str] = "pixelvla_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code: str = code if code is not None else self.default_code

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the code when the error crosses a process boundary (multiprocessing re-raises).
        return (_rebuild, (type(self), self.message, self.code))


def _rebuild(cls: type[PixelVLAError], message: str, code: str) -> PixelVLAError:
    return cls(message, code=code)


class PromptError(PixelVLAError):
    """A visual prompt (point, box, line, mask) or its featurised arrays are invalid."""

    default_code = "invalid_prompt"


class RleError(PixelVLAError):
    """A COCO run-length encoding is malformed or does not match its declared size."""

    default_code = "invalid_rle"


class WireError(PixelVLAError):
    """A msgpack message is malformed, too large, or carries a disallowed array dtype."""

    default_code = "invalid_message"
