"""Any gymnasium env with image observations as a remote robot.

    python -m pixelvla_robot.gym --server ws://host:8000 --name cartpole --env CartPole-v1 --render

gymnasium is imported only to build an env by id (`--env`); `GymAdapter(env)` takes any object with
gymnasium's Env interface (reset(seed=) -> (obs, info), step(a) -> (obs, r, terminated, truncated,
info), observation_space, action_space, render()). What becomes what:

- cameras: an observation that is an image (Box of 3 dims: (H, W, 3) or (3, H, W); uint8, or floats
  in [0, 1]) is camera "image"; in a Dict observation every image entry is a camera named by its key;
  with `render=True` (or no image in the observation) `env.render()` (render_mode="rgb_array") is
  camera "render".
- state: every 1-D (or scalar) Box entry of a Dict observation, in key order, flattened; a vector
  observation is the state itself. Names are `key[i]`.
- action: a continuous Box action space, flattened; its low/high are the limits (infinite bounds are
  refused: a robot must say how far it may move). Discrete spaces are refused.
- stop(): nothing: an env only moves when it is stepped. An episode that ended (terminated or
  truncated) holds its last observation and ignores actions until the server's reset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .adapter import CameraSpec, RobotSpec, to_image

IMAGE = "image"
RENDER = "render"


def _is_box(space: Any) -> bool:
    return hasattr(space, "low") and hasattr(space, "high") and hasattr(space, "shape")


def _is_image_space(space: Any) -> bool:
    shape = tuple(getattr(space, "shape", None) or ())
    return _is_box(space) and len(shape) == 3 and (shape[-1] in (1, 3) or shape[0] in (1, 3))


def _hw(space: Any) -> tuple[int, int]:
    shape = tuple(space.shape)
    return (shape[0], shape[1]) if shape[-1] in (1, 3) else (shape[1], shape[2])


class GymAdapter:
    def __init__(
        self,
        env: Any,
        *,
        control_hz: float | None = None,
        instruction: str = "",
        render: bool = False,
        seed: int = 0,
    ):
        self.env = env
        space = env.observation_space
        spaces = getattr(space, "spaces", None)
        self._cameras: dict[str, str | None] = {}  # camera -> observation key (None: the whole obs)
        self._state_keys: list[str | None] = []
        if isinstance(spaces, dict):
            for key in sorted(spaces):
                sub = spaces[key]
                if _is_image_space(sub):
                    self._cameras[key] = key
                elif _is_box(sub) and len(sub.shape) <= 1:
                    self._state_keys.append(key)
        elif _is_image_space(space):
            self._cameras[IMAGE] = None
        elif _is_box(space) and len(space.shape) <= 1:
            self._state_keys.append(None)
        else:
            raise ValueError(f"observation space {space} has no image and no vector state")
        act = env.action_space
        if not _is_box(act):
            raise ValueError(f"only continuous (Box) action spaces can be driven, not {act}")
        low, high = np.asarray(act.low, np.float64).reshape(-1), np.asarray(act.high, np.float64).reshape(-1)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError("the action space has infinite bounds: give the env finite action limits")
        self._action_shape = tuple(act.shape)
        self._low, self._high = low, high
        self._render = render or not self._cameras
        self._obs, _info = env.reset(seed=seed)
        self._done = False
        self._success: bool | None = None  # unknown unless the env reports info['is_success']
        self._steps = 0
        self._frame = self._rendered() if self._render else None
        self._spec = self._make_spec(control_hz, instruction)

    def _rendered(self) -> np.ndarray:
        frame = self.env.render()
        if frame is None:
            raise ValueError("env.render() returned nothing: make the env with render_mode='rgb_array'")
        return to_image(frame, "env.render()")

    def _state(self, obs: Any) -> np.ndarray:
        parts = [np.asarray(obs if k is None else obs[k], np.float32).reshape(-1) for k in self._state_keys]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _images(self, obs: Any) -> dict[str, np.ndarray]:
        images = {cam: to_image(obs if key is None else obs[key], cam) for cam, key in self._cameras.items()}
        if self._render:
            assert self._frame is not None
            images[RENDER] = self._frame
        return images

    def _make_spec(self, control_hz: float | None, instruction: str) -> RobotSpec:
        images = self._images(self._obs)
        cams = tuple(CameraSpec(n, int(im.shape[1]), int(im.shape[0])) for n, im in images.items())
        state_names: list[str] = []
        for k in self._state_keys:
            width = np.asarray(self._obs if k is None else self._obs[k]).size
            state_names += [f"{k or 'obs'}[{i}]" for i in range(width)]
        fps = control_hz or float(getattr(self.env, "metadata", {}).get("render_fps") or 10.0)
        return RobotSpec(
            kind="gym",
            cameras=cams,
            state_names=tuple(state_names),
            action_names=tuple(f"a[{i}]" for i in range(self._low.size)),
            action_low=tuple(float(v) for v in self._low),
            action_high=tuple(float(v) for v in self._high),
            control_hz=min(30.0, max(1.0, fps)),
            instruction=instruction,
        )

    def spec(self) -> RobotSpec:
        return self._spec

    def observe(self) -> dict[str, Any]:
        obs = {"images": self._images(self._obs), "state": self._state(self._obs), "t": float(self._steps)}
        if self._success is not None:
            obs["success"] = self._success
        return obs

    def act(self, action: np.ndarray) -> np.ndarray:
        if self._done:
            return np.zeros_like(self._low, dtype=np.float32)  # the episode ended: wait for a reset
        a = np.asarray(action, np.float64).reshape(self._action_shape).astype(self.env.action_space.dtype)
        self._obs, _reward, terminated, truncated, info = self.env.step(a)
        self._done = bool(terminated or truncated)
        if isinstance(info, dict) and "is_success" in info:  # gymnasium-robotics' convention
            self._success = bool(info["is_success"])
        self._steps += 1
        if self._render:
            self._frame = self._rendered()
        return np.asarray(a, np.float32).reshape(-1)

    def stop(self) -> None:
        """An env moves only when stepped: holding still is not stepping it."""

    def reset(self, task: str, seed: int) -> None:
        self._obs, _info = self.env.reset(seed=seed)
        self._done, self._steps, self._success = False, 0, None
        if self._render:
            self._frame = self._rendered()

    def close(self) -> None:
        self.env.close()


def main(argv: list[str] | None = None) -> int:
    from .cli import parser, run

    p = parser("Run a gymnasium env with image observations as a remote robot of a PixelVLA server.")
    p.add_argument("--env", required=True, help="a gymnasium env id, e.g. CartPole-v1 (with --render)")
    p.add_argument("--render", action="store_true", help="stream env.render() as camera 'render'")
    p.add_argument("--instruction", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--control-hz", type=float, default=None, help="default: the env's render_fps, else 10")
    args = p.parse_args(argv)

    def make() -> GymAdapter:
        import gymnasium

        env = gymnasium.make(args.env, render_mode="rgb_array" if args.render else None)
        return GymAdapter(
            env, control_hz=args.control_hz, instruction=args.instruction, render=args.render, seed=args.seed
        )

    return run(make, args)


if __name__ == "__main__":
    raise SystemExit(main())
