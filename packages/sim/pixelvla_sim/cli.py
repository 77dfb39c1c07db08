"""``pixelvla-sim``: generate Pixel-annotated LeRobot v3 datasets from the scripted expert.

    pixelvla-sim gen --episodes 200 --out var/datasets/sim [--tasks pick place] [--seed 0] [--workers 2]

Rerunning the same command skips the episodes already written and only finalizes the rest; a
killed run leaves whole staged episodes behind and nothing half-written. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pixelvla.errors import PixelVLAError
from tqdm import tqdm

from pixelvla_sim.generate import GenConfig, default_workers, generate, parse_tasks
from pixelvla_sim.robot import CAMERAS
from pixelvla_sim.tasks import TASKS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pixelvla-sim", description=__doc__.split("\n")[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gen", help="generate (or resume) a dataset")
    g.add_argument("--episodes", type=int, required=True, help="total episodes the dataset should hold")
    g.add_argument("--out", type=Path, required=True, help="dataset folder (created or resumed)")
    g.add_argument(
        "--tasks", nargs="+", default=None, help=f"task names (default: all of {', '.join(TASKS)})"
    )
    g.add_argument("--seed", type=int, default=0, help="run seed; the same seed gives the same dataset")
    g.add_argument("--noise", type=float, default=0.003, help="expert translation noise std (m/step)")
    g.add_argument(
        "--speed", type=float, default=1.0, help="expert speed as a fraction of the robot's limit (0.05-1)"
    )
    g.add_argument("--image-size", type=int, default=224)
    g.add_argument(
        "--camera-jitter",
        type=float,
        default=0.0,
        help="move the front camera per scene by up to this many metres per axis (default 0: fixed)",
    )
    g.add_argument("--cameras", nargs="+", default=list(CAMERAS), choices=list(CAMERAS))
    g.add_argument("--workers", type=int, default=default_workers(), help="parallel processes")
    g.add_argument(
        "--video",
        action="store_true",
        help="store camera frames as AV1 mp4 like lerobot (smaller, lossy; masks stay exact in the sidecar)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = GenConfig(
            out=args.out,
            episodes=args.episodes,
            tasks=parse_tasks(args.tasks),
            seed=args.seed,
            noise=args.noise,
            speed=args.speed,
            image_size=args.image_size,
            cameras=tuple(args.cameras),
            camera_jitter=args.camera_jitter,
            video=args.video,
        )
        with tqdm(total=cfg.episodes, desc="episodes", unit="ep", file=sys.stderr) as bar:
            from pixelvla_sim.generate import make_writer

            writer = make_writer(cfg)
            bar.update(sum(1 for i in range(cfg.episodes) if writer.has_episode(i)))
            summary = generate(cfg, workers=max(1, args.workers), progress=lambda _s: bar.update(1))
    except (PixelVLAError, ValueError) as exc:
        print(f"pixelvla-sim: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
