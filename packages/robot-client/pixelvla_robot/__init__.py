"""pixelvla_robot: the robot side of PixelVLA Studio's remote robot link (docs/PROTOCOLS.md "Remote robots").

A robot process runs `RobotClient(url, adapter, name=...)`: it announces the robot, streams its frames
and state, executes the actions the server sends and stops the robot on its own when the link goes
quiet. Adapters: `sim` (pixelvla_sim), `gym` (gymnasium envs with image observations), `libero`
(pixelvla_libero's TaskEnv), `lerobot` (a LeRobot `Robot`); each imports its library lazily.

The link's modules (msgpack, websockets) are imported on first use of `RobotClient`, so an adapter's
mapping can be checked in an environment that has only numpy.
"""

from typing import TYPE_CHECKING, Any

from .adapter import Adapter, CameraSpec, RobotSpec
from .errors import (
    AuthRefused,
    BadAction,
    BadServerUrl,
    LinkLost,
    NameTaken,
    ProtocolMismatch,
    RobotClientError,
)

if TYPE_CHECKING:
    from .client import RobotClient

PROTOCOL = "pixelvla.robot.v1"


def __getattr__(name: str) -> Any:
    if name == "RobotClient":
        from .client import RobotClient

        return RobotClient
    raise AttributeError(f"module 'pixelvla_robot' has no attribute {name!r}")


__all__ = [
    "PROTOCOL",
    "Adapter",
    "AuthRefused",
    "BadAction",
    "BadServerUrl",
    "CameraSpec",
    "LinkLost",
    "NameTaken",
    "ProtocolMismatch",
    "RobotClient",
    "RobotClientError",
    "RobotSpec",
]
