"""Labelled frames for pretraining a vision tower on what the simulator gives for free.

A policy trained only from action losses has to discover by itself that a 7-pixel patch of green is
"the green cube"; the simulator knows it exactly. This module renders seeded tabletop scenes (the
task scenes, so the distribution matches the episodes) from the front camera with the hand at random
poses above the table, and writes for every frame:

- ``images``: uint8 (N, S, S, 3), the frame at the model's image size (the same bilinear resize with
  antialias as training batches and the policy use: pixelvla.vision.images_to_pixels);
- ``labels``: uint8 (N, S, S), the class of every pixel (``CLASSES``: background, the hand, the two
  containers, and one class per colour and kind of object), from MuJoCo's exact segmentation
  rendered at the camera's size and sampled at each model pixel's centre;
- ``depth``: float16 (N, S, S), metres from the camera plane (the same sampling);
- ``queries.json``: per frame, instructions in the tasks' own grammar (``tasks.instruction_for``)
  about that frame's scene, each with the classes its object phrase names (one for "the red cube",
  every cube of the scene for "the cube", none for an object the scene does not have) and the
  container class it names (place) or null (pick): what a text grounder learns from.

``classes.json`` beside the arrays names the classes. The arrays are one ``.npz`` written by us and
read with ``allow_pickle=False``.

    python -m pixelvla_sim.vision_data --out var/vision --scenes 600 [--frames-per-scene 3]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from pixelvla_sim import scene as sc
from pixelvla_sim.robot import SimRobot
from pixelvla_sim.tasks import TASKS, check_seed, check_task, instruction_for

BACKGROUND, HAND, BOX, PLATE = 0, 1, 2, 3
OBJECT_CLASSES: tuple[tuple[str, str], ...] = tuple((c, k) for k in sc.KINDS for c in sc.COLOURS)
CLASSES: tuple[str, ...] = (
    "background",
    "hand",
    "box",
    "plate",
    *tuple(f"{c} {k}" for c, k in OBJECT_CLASSES),
)
FIRST_OBJECT = 4
DATA_FILE = "vision.npz"
CLASSES_FILE = "classes.json"
QUERIES_FILE = "queries.json"
QUERIES_PER_FRAME = 4


def object_class(colour: str, kind: str) -> int:
    """The label of an object of ``colour`` and ``kind``."""
    return FIRST_OBJECT + OBJECT_CLASSES.index((colour, kind))


@dataclass(frozen=True)
class VisionDataConfig:
    out: Path
    scenes: int
    seed: int = 0
    tasks: tuple[str, ...] = TASKS
    frames_per_scene: int = 3  # the first with the hand at home, the rest at random poses
    render_size: int = 224  # the dataset's camera size
    image_size: int = 112  # the model's

    def __post_init__(self) -> None:
        if isinstance(self.scenes, bool) or not isinstance(self.scenes, int) or self.scenes < 1:
            raise ValueError(f"scenes must be a positive integer, got {self.scenes!r}")
        if not 1 <= self.frames_per_scene <= 32:
            raise ValueError(f"frames_per_scene must be in [1, 32], got {self.frames_per_scene}")
        if not 16 <= self.image_size <= self.render_size:
            raise ValueError(f"image_size must be in [16, render_size], got {self.image_size}")
        for t in self.tasks:
            check_task(t)
        check_seed(self.seed)


def label_map(robot: SimRobot, camera: str = "front") -> np.ndarray:
    """uint8 (H, W) class per pixel of the robot's current frame (``CLASSES``)."""
    seg = robot.segmentation(camera)
    model, _ = robot._ready()
    lut = np.zeros(model.ngeom + 1, np.uint8)  # index geom id + 1: -1 (nothing) -> background
    for o in robot.scene.objects:
        lut[robot.object_geom_id(o.name) + 1] = object_class(o.colour, o.kind)
    for g in range(model.ngeom):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or ""
        if name in ("palm", "finger_left", "finger_right"):
            lut[g + 1] = HAND
        elif name.startswith("box"):
            lut[g + 1] = BOX
        elif name.startswith("plate"):
            lut[g + 1] = PLATE
    return lut[seg + 1]


def depth_map(robot: SimRobot, camera: str = "front") -> np.ndarray:
    """float32 (H, W) depth in metres of the robot's current frame."""
    _, data = robot._ready()
    return robot._get_renderer().depth(data, robot._camera_id(camera))


def _centre_sample(a: np.ndarray, size: int) -> np.ndarray:
    """Nearest sampling at the centres of a size x size grid (labels must stay labels)."""
    h, w = a.shape[:2]
    rows = ((np.arange(size) + 0.5) * h / size).astype(np.int64)
    cols = ((np.arange(size) + 0.5) * w / size).astype(np.int64)
    return a[rows][:, cols]


def _pose_hand(robot: SimRobot, rng: np.random.Generator) -> None:
    """Move the hand (kinematically: no physics) to a random pose over the workspace, fingers
    anywhere from open to closed, so frames show it over and beside the objects."""
    model, data = robot._ready()
    pos = np.array(
        [
            rng.uniform(sc.SPAWN_X[0], sc.SPAWN_X[1]),
            rng.uniform(sc.SPAWN_Y[0], sc.SPAWN_Y[1]),
            rng.uniform(sc.FINGER_REACH + 0.02, 0.3),
        ]
    )
    yaw = float(rng.uniform(-np.pi, np.pi))
    quat = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    data.mocap_pos[robot._hand_mocap] = pos
    data.mocap_quat[robot._hand_mocap] = quat
    data.qpos[robot._hand_qpos : robot._hand_qpos + 3] = pos
    data.qpos[robot._hand_qpos + 3 : robot._hand_qpos + 7] = quat
    width = float(rng.uniform(0.0, sc.FINGER_TRAVEL))
    for name in ("finger_left", "finger_right"):
        data.qpos[model.jnt_qposadr[model.joint(name).id]] = width
    mujoco.mj_forward(model, data)


def grounding_queries(scene: sc.SceneSpec, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    """`n` instructions about `scene`: {instruction, object: [classes], target: class | None}. A
    phrase names one object by colour and kind, every object of a kind by kind alone, or (one in
    ten) an object the scene does not have; half are places into a container the scene has."""
    container_class = {"box": BOX, "plate": PLATE}
    out: list[dict[str, Any]] = []
    present = {(o.colour, o.kind) for o in scene.objects}
    absent = [ck for ck in OBJECT_CLASSES if ck not in present]
    for _ in range(n):
        r = rng.random()
        if r < 0.1 and absent:
            colour, kind = absent[int(rng.integers(len(absent)))]
            what, classes = f"{colour} {kind}", []
        elif r < 0.55:
            o = scene.objects[int(rng.integers(len(scene.objects)))]
            what, classes = o.description, [object_class(o.colour, o.kind)]
        else:
            kind = scene.objects[int(rng.integers(len(scene.objects)))].kind
            what = kind
            classes = sorted(object_class(o.colour, o.kind) for o in scene.objects if o.kind == kind)
        container = None
        if scene.containers and rng.random() < 0.5:
            container = scene.containers[int(rng.integers(len(scene.containers)))]
        out.append(
            {
                "instruction": instruction_for(what, container),
                "object": classes,
                "target": None if container is None else container_class[container.kind],
            }
        )
    return out


def generate(cfg: VisionDataConfig) -> dict[str, Any]:
    """Render ``cfg.scenes`` scenes x ``cfg.frames_per_scene`` frames into ``cfg.out``; returns a
    JSON-able summary. Deterministic in ``cfg.seed``."""
    import torch
    from pixelvla.vision import images_to_pixels

    t0 = time.perf_counter()
    n = cfg.scenes * cfg.frames_per_scene
    s = cfg.image_size
    images = np.zeros((n, s, s, 3), np.uint8)
    labels = np.zeros((n, s, s), np.uint8)
    depth = np.zeros((n, s, s), np.float16)
    queries: list[list[dict[str, Any]]] = []
    k = 0
    with SimRobot(image_size=cfg.render_size, cameras=("front",)) as robot:
        for i in range(cfg.scenes):
            seed = int(np.random.SeedSequence([cfg.seed, i]).generate_state(1, np.uint32)[0])
            task = cfg.tasks[i % len(cfg.tasks)]
            robot.reset(seed, task)
            rng = np.random.default_rng([cfg.seed, i, 1])
            ask = np.random.default_rng([cfg.seed, i, 2])  # the queries: the frames do not depend on them
            for f in range(cfg.frames_per_scene):
                if f > 0:
                    _pose_hand(robot, rng)
                rgb = robot.render("front")
                small = images_to_pixels(torch.from_numpy(rgb[None]), s)
                images[k] = (small[0].permute(1, 2, 0) * 255.0).round().to(torch.uint8).numpy()
                labels[k] = _centre_sample(label_map(robot), s)
                depth[k] = _centre_sample(depth_map(robot), s).astype(np.float16)
                queries.append(grounding_queries(robot.scene, ask, QUERIES_PER_FRAME))
                k += 1
    cfg.out.mkdir(parents=True, exist_ok=True)
    tmp = cfg.out / f".{DATA_FILE}.tmp.npz"
    np.savez(tmp, images=images, labels=labels, depth=depth)
    tmp.replace(cfg.out / DATA_FILE)
    (cfg.out / QUERIES_FILE).write_text(json.dumps(queries))
    (cfg.out / CLASSES_FILE).write_text(json.dumps({"classes": list(CLASSES), "first_object": FIRST_OBJECT}))
    counts = np.bincount(labels.reshape(-1), minlength=len(CLASSES))
    return {
        "out": str(cfg.out),
        "frames": n,
        "seconds": round(time.perf_counter() - t0, 2),
        "pixel_share": {c: round(float(v) / labels.size, 5) for c, v in zip(CLASSES, counts, strict=True)},
    }


def load(root: Path) -> dict[str, np.ndarray]:
    """The arrays of a folder written by :func:`generate` (no pickles)."""
    with np.load(root / DATA_FILE, allow_pickle=False) as z:
        return {k: z[k] for k in ("images", "labels", "depth")}


def load_queries(root: Path) -> list[list[dict[str, Any]]]:
    """The grounding queries of a folder written by :func:`generate`, one list per frame."""
    return list(json.loads((root / QUERIES_FILE).read_text()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--scenes", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frames-per-scene", type=int, default=3)
    ap.add_argument("--image-size", type=int, default=112)
    args = ap.parse_args(argv)
    cfg = VisionDataConfig(
        out=args.out,
        scenes=args.scenes,
        seed=args.seed,
        frames_per_scene=args.frames_per_scene,
        image_size=args.image_size,
    )
    if (cfg.out / DATA_FILE).exists():
        print(json.dumps({"out": str(cfg.out), "skipped": "exists"}))
        return 0
    print(json.dumps(generate(cfg)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
