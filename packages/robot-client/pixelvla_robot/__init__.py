"""pixelvla_robot: the robot side of PixelVLA Studio's remote robot link (docs/PROTOCOLS.md "Remote robots").

A robot process runs `RobotClient(url, adapter)`: it announces the robot, streams its frames and
state, executes the actions the server sends and stops the robot on its own when the link goes quiet.
Adapters: `sim` (pixelvla_sim), `gym` (gymnasium envs with image observations), `libero`
(pixelvla_libero's TaskEnv), `lerobot` (a LeRobot `Robot`). Each imports its library lazily.
"""

from .adapter import Adapter, CameraSpec, RobotSpec
from .client import RobotClient
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
