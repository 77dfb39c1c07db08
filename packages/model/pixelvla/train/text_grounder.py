"""Training the text grounder (pixelvla.text_grounder) on the simulator's labelled frames.

    python -m pixelvla.train.text_grounder --data var/vision --out RUN [--steps 1500]
    python -m pixelvla.train.text_grounder --data var/vision --out RUN --attach BUNDLE

Each example is a frame of pixelvla_sim.vision_data with one of its queries: the instruction, and
as targets the pixels of the classes its object phrase names and of the container it names (exact
segmentation). Loss: per-pixel binary cross-entropy plus a soft Dice term per mask (objects cover
~0.5% of the frame; Dice keeps a small mask from losing to the background). The last `held_out`
share of frames is never trained on; RUN/grounder.json reports on it: the object and container
masks' IoU, how often an object is found where the phrase names one, and how often something is
"found" for an object the scene does not have. `--attach` adds the weights to a bundle (its
manifest lists them, so its model_id changes: predictions without a drawn prompt change with them).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..text_grounder import CONFIG_FILE, WEIGHTS_FILE, GrounderConfig, TextGrounder, save, text_bytes
from . import rng

REPORT_FILE = "grounder.json"


@dataclass
class GrounderTrainConfig:
    data: str
    out: str
    steps: int = 1500
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 0
    held_out: float = 0.15


def _load(root: Path) -> tuple[np.ndarray, np.ndarray, list[list[dict[str, Any]]]]:
    with np.load(root / "vision.npz", allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
    queries = json.loads((root / "queries.json").read_text())
    if len(queries) != len(images):
        raise ValueError(f"{root}: {len(queries)} query lists for {len(images)} frames")
    return images, labels, queries


def targets(labels: np.ndarray, query: dict[str, Any]) -> np.ndarray:
    """(2, H, W) float: the object phrase's classes, the named container's class."""
    obj = (
        np.isin(labels, np.asarray(query["object"], dtype=labels.dtype))
        if query["object"]
        else np.zeros_like(labels, bool)
    )
    tgt = labels == query["target"] if query["target"] is not None else np.zeros_like(labels, bool)
    return np.stack([obj, tgt]).astype(np.float32)


def _batch(
    images: np.ndarray,
    labels: np.ndarray,
    queries: list[list[dict[str, Any]]],
    pairs: list[tuple[int, int]],
    cfg: GrounderConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    pixels = torch.from_numpy(images[[f for f, _ in pairs]]).permute(0, 3, 1, 2).float() / 255.0
    ids, valid = text_bytes([queries[f][q]["instruction"] for f, q in pairs], cfg.max_text_bytes)
    y = torch.from_numpy(np.stack([targets(labels[f], queries[f][q]) for f, q in pairs]))
    # The grounder predicts at half the image size: the targets are each 2 x 2 block's share.
    return pixels, ids, valid, F.avg_pool2d(y, 2)


def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, y)
    p = torch.sigmoid(logits).flatten(2)
    t = y.flatten(2)
    inter, total = (p * t).sum(-1), (p + t).sum(-1)
    has = t.sum(-1) > 0
    dice = 1 - (2 * inter + 1) / (total + 1)
    # An empty target: Dice would only ask for nothing; the BCE already does, on every pixel.
    dice = (dice * has).sum() / has.sum().clamp(min=1)
    return bce + dice


@torch.inference_mode()
def evaluate(
    model: TextGrounder,
    images: np.ndarray,
    labels: np.ndarray,
    queries: list[list[dict[str, Any]]],
    frames: range,
) -> dict[str, Any]:
    cfg = model.cfg
    iou: dict[str, list[float]] = {"one": [], "kind": [], "container": []}
    found, false_found = [], []
    pairs = [(f, q) for f in frames for q in range(len(queries[f]))]
    for i in range(0, len(pairs), 64):
        chunk = pairs[i : i + 64]
        pixels, ids, valid, y = _batch(images, labels, queries, chunk, cfg)
        pred = (torch.sigmoid(model(pixels, ids, valid)) >= cfg.threshold).numpy()
        for (f, q), p, t in zip(chunk, pred, y.numpy() > 0.5, strict=True):
            query = queries[f][q]
            for role, name in ((0, "kind" if len(query["object"]) > 1 else "one"), (1, "container")):
                if t[role].any():
                    iou[name].append(float((p[role] & t[role]).sum() / (p[role] | t[role]).sum()))
                    if role == 0:
                        found.append(bool(p[0].sum() >= cfg.min_pixels))
            if not query["object"]:
                false_found.append(bool(p[0].sum() >= cfg.min_pixels))
    return {
        "queries": len(pairs),
        "iou_one_object": float(np.mean(iou["one"])) if iou["one"] else None,
        "iou_every_of_kind": float(np.mean(iou["kind"])) if iou["kind"] else None,
        "iou_container": float(np.mean(iou["container"])) if iou["container"] else None,
        "object_found": float(np.mean(found)) if found else None,
        "absent_object_found": float(np.mean(false_found)) if false_found else None,
    }


def train(tc: GrounderTrainConfig, gc: GrounderConfig | None = None) -> dict[str, Any]:
    rng.seed_everything(tc.seed)
    images, labels, queries = _load(Path(tc.data))
    gc = gc or GrounderConfig(image_size=int(images.shape[1]))
    if images.shape[1] != gc.image_size:
        raise ValueError(f"frames are {images.shape[1]} px, the grounder takes {gc.image_size}")
    n_train = max(1, round(len(images) * (1 - tc.held_out)))
    train_pairs = [(f, q) for f in range(n_train) for q in range(len(queries[f]))]
    model = TextGrounder(gc)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=tc.lr, total_steps=max(1, tc.steps), pct_start=0.1
    )
    g = np.random.default_rng(tc.seed)
    t0, losses = time.time(), []
    for step in range(tc.steps):
        pick = g.integers(0, len(train_pairs), size=tc.batch_size)
        pixels, ids, valid, y = _batch(images, labels, queries, [train_pairs[int(i)] for i in pick], gc)
        loss = loss_fn(model(pixels, ids, valid), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0 or step == tc.steps - 1:
            print(
                json.dumps(
                    {
                        "step": step,
                        "loss": round(float(np.mean(losses[-100:])), 4),
                        "s": round(time.time() - t0, 1),
                    }
                ),
                flush=True,
            )
    model.eval()
    out = Path(tc.out)
    save(model, out)
    report = {
        "config": asdict(tc),
        "grounder": asdict(gc),
        "train_frames": n_train,
        "held_out_frames": len(images) - n_train,
        "seconds": round(time.time() - t0, 1),
        "final_loss": float(np.mean(losses[-50:])) if losses else None,
        "held_out": evaluate(model, images, labels, queries, range(n_train, len(images))),
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report


def attach(run: Path, bundle: Path, *, targets_as_prompt: bool = False) -> str:
    """Add a trained grounder to a bundle (replacing one there): its files join the manifest, so
    the bundle's model_id changes with it. `targets_as_prompt`: the bundle's policy was trained
    with the grounded container as a second mask prompt (TrainConfig.text_grounder). Returns the
    new model_id."""
    import tempfile

    from ..checkpoint import attach_files

    config = json.loads((run / CONFIG_FILE).read_text())
    config["targets_as_prompt"] = targets_as_prompt
    with tempfile.TemporaryDirectory() as tmp:
        cfg_file = Path(tmp) / CONFIG_FILE
        cfg_file.write_text(json.dumps(config, indent=2))
        return attach_files(bundle, {WEIGHTS_FILE: run / WEIGHTS_FILE, CONFIG_FILE: cfg_file})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True, help="a folder written by pixelvla_sim.vision_data")
    ap.add_argument("--out", required=True, help="the run folder (weights, config, grounder.json)")
    ap.add_argument("--steps", type=int, default=GrounderTrainConfig.steps)
    ap.add_argument("--batch-size", type=int, default=GrounderTrainConfig.batch_size)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--attach", type=Path, help="a bundle to copy the trained grounder into")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if (out / WEIGHTS_FILE).exists() and (out / REPORT_FILE).exists():
        report = json.loads((out / REPORT_FILE).read_text())  # resumable recipes: trained already
    else:
        tc = GrounderTrainConfig(
            data=args.data, out=args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed
        )
        report = train(tc)
    if args.attach is not None:
        attach(out, args.attach)
    print(json.dumps(report["held_out"]))


if __name__ == "__main__":
    main()
