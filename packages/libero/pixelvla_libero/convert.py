"""`python -m pixelvla_libero.convert NPZ_DIR DATASET`: the expert's npz episodes -> a LeRobot v3
dataset with the Pixel annotation sidecar, written by the project's own pixelvla.data.LeRobotWriter
(so the project's .venv, not LIBERO's). Resumable: episodes already in DATASET are skipped.

The camera is named ``front`` (what training reads: agentview, rotated as the eval rotates it);
fps 20 (LIBERO's control rate); state and action names from ``protocol``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .protocol import ACTION_NAMES, STATE_NAMES

ROBOT_TYPE = "libero_panda"
FPS = 20


LEDGER = ".libero-sources.json"  # in the dataset folder: the npz file behind each episode, in order


def convert(src: Path, dst: Path) -> int:
    """Append the npz episodes of ``src`` not yet in ``dst``; returns the dataset's episode count."""
    from pixelvla.data import DatasetError, EpisodeRecord, LeRobotWriter

    files = sorted(f for f in src.glob("*.npz") if not f.name.startswith("."))
    if not files:
        raise DatasetError(f"no npz episodes in {src}", code="empty_source")
    with np.load(files[0]) as first:
        h, w = (int(x) for x in first["front"].shape[1:3])
    writer = LeRobotWriter(
        dst,
        cameras={"front": (h, w)},
        state_names=STATE_NAMES,
        action_names=ACTION_NAMES,
        fps=FPS,
        robot_type=ROBOT_TYPE,
    )
    ledger_path = dst / LEDGER
    done: list[str] = json.loads(ledger_path.read_text()) if ledger_path.exists() else []
    if len(done) != writer.finalized_count():
        raise DatasetError(
            f"{dst} has {writer.finalized_count()} episodes but {ledger_path} lists {len(done)}; "
            "it was not written by this converter (choose another folder)",
            code="dataset_schema_mismatch",
        )
    new = [f for f in files if f.name not in set(done)]
    for k, path in enumerate(new):
        index = len(done) + k
        if writer.has_episode(index):  # staged by a run killed before it finalized
            continue
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            record = EpisodeRecord(
                frames={"front": z["front"]},
                actions=z["action"].astype(np.float32),
                states=z["state"].astype(np.float32),
                task=meta["task"],
                annotation=meta["annotation"],
                source={
                    "generator": "pixelvla_libero.expert",
                    "file": path.name,
                    **{k: meta[k] for k in ("suite", "task_id", "init_state")},
                    **meta.get("expert", {}),
                },
            )
        writer.write_episode(index, record)
    n = writer.finalize()
    tmp = ledger_path.with_suffix(".tmp")
    tmp.write_text(json.dumps([*done, *(f.name for f in new)]))
    tmp.replace(ledger_path)
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pixelvla_libero.convert", description=__doc__)
    p.add_argument("src", help="folder of npz episodes from pixelvla_libero.generate")
    p.add_argument("dst", help="the LeRobot dataset folder to write or extend")
    a = p.parse_args(argv)
    from pixelvla.errors import PixelVLAError

    try:
        n = convert(Path(a.src), Path(a.dst))
    except PixelVLAError as e:
        print(f"pixelvla_libero: error [{e.code}]: {e.message}", file=sys.stderr)
        return 2
    print(json.dumps({"dataset": a.dst, "episodes": n}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
