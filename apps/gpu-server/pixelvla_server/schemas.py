"""Schemas shared by several rooms (one name each in /openapi.json, so the studio's TS types stay clean)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RleMask(BaseModel):
    """A COCO run-length encoded mask: size [H, W], counts as the compressed string or a list of runs."""

    size: list[int] = Field(min_length=2, max_length=2)
    counts: str | list[int] = Field(max_length=4_000_000)
