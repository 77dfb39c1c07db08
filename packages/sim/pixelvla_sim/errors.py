"""Typed errors of the simulated robot; all are :class:`pixelvla.errors.PixelVLAError` (a ValueError)."""

from __future__ import annotations

from pixelvla.errors import PixelVLAError


class ActionError(PixelVLAError):
    """An action is not a finite 7-vector (NaN/inf, wrong shape or dtype)."""

    default_code = "invalid_action"


class TaskError(PixelVLAError):
    """The task name is not one of :data:`pixelvla_sim.tasks.TASKS`."""

    default_code = "unknown_task"


class SeedError(PixelVLAError):
    """A seed is not a non-negative integer."""

    default_code = "invalid_seed"


class RobotStateError(PixelVLAError):
    """The robot was used before ``reset`` (or a camera name is unknown)."""

    default_code = "robot_not_ready"
