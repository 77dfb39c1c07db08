"""Vision pretraining of the tiny tower on the simulator's free labels, before any policy stage.

The tiny configuration has no pretrained towers (the full one has DINOv2 + SigLIP). Learning to see
from an action loss alone failed: a linear probe of the old demo tower classified 1% of the patches
that show an object correctly, no better than a random tower. Here the tower learns per patch what
the simulator knows exactly (pixelvla_sim.vision_data): which object class covers it (colour x kind,
the containers, the hand), where inside the patch that object's centre lies, and how far the
surface is (depth). Three small heads on the features the projector reads; only the tower is kept.

    python -m pixelvla.train.vision_pretrain --data var/vision --out RUN [--steps 1500]

RUN gets ``vision.safetensors`` (the tower, names relative to ``PixelVLA.vision``) and
``pretrain.json`` (settings, losses, and the linear probe on held-out frames, before and after).
A base run starts from it with ``TrainConfig.vision_init``.
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
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import load_config
from ..errors import PixelVLAError
from ..model import PixelVLA
from ..probe import FIRST_OBJECT_CLASS, patch_classes, patch_coverage, tower_features, vision_probe
from ..vision import VisionBackbone, images_to_pixels
from . import atomic, rng

VISION_FILE = "vision.safetensors"
REPORT_FILE = "pretrain.json"
DATA_FILE = "vision.npz"  # pixelvla_sim.vision_data.DATA_FILE
# The tower passes when a linear read-out finds a named object's patch this often on held-out frames
# (a random tower: ~0.65, because colour alone is linear in raw patches; the old demo tower: 0.68).
PROBE_PASS = 0.9


class VisionPretrainError(PixelVLAError):
    default_code = "invalid_vision_pretrain"


@dataclass
class PretrainConfig:
    data: str  # folder written by pixelvla_sim.vision_data
    out: str
    model: str = "tiny"
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    held_out: float = 0.15  # share of frames (the last ones) kept for the probe
    num_classes: int = 22  # pixelvla_sim.vision_data.CLASSES


class PatchHeads(nn.Module):
    """Per patch: class logits, the dominant object's centre offset in the patch, mean depth."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.cls = nn.Linear(dim, num_classes)
        self.offset = nn.Linear(dim, 2)
        self.depth = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.cls(x), self.offset(x), self.depth(x).squeeze(-1)


def patch_targets(
    labels: np.ndarray, depth: np.ndarray, grid: int, num_classes: int
) -> dict[str, np.ndarray]:
    """Per-patch training targets of frames' pixel classes and depth."""
    n, s, _ = labels.shape
    p = s // grid
    cov = patch_coverage(labels, grid, num_classes)
    cls = patch_classes(cov)
    # Centre offset of the patch's class inside the patch, in patch units [-0.5, 0.5] (objects only).
    rows = (np.arange(p * grid) + 0.5) / p
    offs = np.zeros((n, grid * grid, 2), np.float32)
    lab = labels[:, : p * grid, : p * grid].reshape(n, grid, p, grid, p).transpose(0, 1, 3, 2, 4)
    rr = rows[: p * grid].reshape(grid, p)
    for i in range(n):
        for g in np.nonzero(cls[i] >= FIRST_OBJECT_CLASS)[0]:
            gr, gc = divmod(int(g), grid)
            m = lab[i, gr, gc] == cls[i, g]
            r_idx, c_idx = np.nonzero(m)
            offs[i, g] = (rr[gr][r_idx].mean() - gr - 0.5, rr[gc][c_idx].mean() - gc - 0.5)
    d = np.log(np.clip(depth[:, : p * grid, : p * grid].astype(np.float32), 0.05, 5.0))
    dmean = d.reshape(n, grid, p, grid, p).mean(axis=(2, 4)).reshape(n, grid * grid)
    return {"cls": cls.astype(np.int64), "offset": offs, "depth": dmean.astype(np.float32)}


def load_data(root: Path) -> dict[str, np.ndarray]:
    path = root / DATA_FILE
    if not path.is_file():
        raise VisionPretrainError(f"{path} does not exist (python -m pixelvla_sim.vision_data --out {root})")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in ("images", "labels", "depth")}


def load_tower(vision: VisionBackbone, path: str | Path) -> None:
    """Fill a model's towers from a pretraining run folder (or its vision.safetensors)."""
    p = Path(path)
    if p.is_dir():
        p = p / VISION_FILE
    if not p.is_file():
        raise VisionPretrainError(f"vision_init {path}: no {VISION_FILE}")
    result = vision.load_state_dict(load_file(str(p)), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise VisionPretrainError(
            f"vision_init {path} does not fit the model's towers: missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}"
        )


def pretrain(cfg: PretrainConfig, progress: bool = True) -> dict[str, Any]:
    t0 = time.time()
    rng.seed_everything(cfg.seed)
    config = load_config(cfg.model)
    model = PixelVLA(config)
    vision = model.vision
    grid, size = config.vision.grid, config.vision.image_size
    data = load_data(Path(cfg.data))
    images, labels = data["images"], data["labels"]
    if images.shape[1] != size:
        raise VisionPretrainError(f"the data's frames are {images.shape[1]} px; the model takes {size}")
    n = len(images)
    n_test = max(1, int(n * cfg.held_out))
    n_train = n - n_test
    if n_train < 8:
        raise VisionPretrainError(f"{n} frames are too few to pretrain on")
    targets = patch_targets(labels, data["depth"], grid, cfg.num_classes)

    def probe() -> dict[str, Any]:
        vision.eval()
        # The probe fits on frames the tower trained on and scores on the held-out ones.
        k = min(n_train, 2 * n_test)
        idx = np.concatenate([np.arange(n_train - k, n_train), np.arange(n_train, n)])
        feats = tower_features(vision, images[idx], size)
        vision.train()
        return vision_probe(feats, labels[idx], grid, cfg.num_classes, k).to_json()

    before = probe()
    heads = PatchHeads(vision.embed_dim, cfg.num_classes)
    params = [*vision.parameters(), *heads.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    # Object patches are ~5% of all: weight their classes up so the tower cannot settle for "table".
    cls_weight = torch.ones(cfg.num_classes)
    cls_weight[FIRST_OBJECT_CLASS:] = 4.0
    gen = np.random.default_rng(cfg.seed)
    history: list[dict[str, float]] = []
    t_train = time.time()
    for step in range(1, cfg.steps + 1):
        idx = gen.integers(0, n_train, cfg.batch_size)
        img = torch.from_numpy(images[idx])
        if gen.random() < 0.5:  # brightness jitter: the renderer's lighting is fixed, a camera's is not
            img = (img.float() * float(gen.uniform(0.85, 1.15))).clamp(0, 255).to(torch.uint8)
        feats = vision(images_to_pixels(img, size)).patches
        logits, offset, depth = heads(feats)
        cls = torch.from_numpy(targets["cls"][idx])
        loss_cls = F.cross_entropy(logits.reshape(-1, cfg.num_classes), cls.reshape(-1), weight=cls_weight)
        obj = cls >= FIRST_OBJECT_CLASS
        loss_off = (
            F.l1_loss(offset[obj], torch.from_numpy(targets["offset"][idx])[obj])
            if obj.any()
            else offset.sum() * 0.0
        )
        loss_depth = F.l1_loss(depth, torch.from_numpy(targets["depth"][idx]))
        loss = loss_cls + loss_off + 0.5 * loss_depth
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == cfg.steps:
            row = {
                "step": step,
                "loss": round(float(loss.detach()), 4),
                "cls": round(float(loss_cls.detach()), 4),
                "offset": round(float(loss_off.detach()), 4),
                "depth": round(float(loss_depth.detach()), 4),
            }
            history.append(row)
            if progress:
                print(json.dumps(row), flush=True)
    train_s = time.time() - t_train
    after = probe()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{VISION_FILE}.tmp"
    save_file({k: v.detach().contiguous() for k, v in vision.state_dict().items()}, str(tmp))
    tmp.replace(out / VISION_FILE)
    report = {
        "config": asdict(cfg),
        "frames": {"train": n_train, "held_out": n_test},
        "probe_before": before,
        "probe_after": after,
        "probe_pass_at": PROBE_PASS,
        "probe_passed": after["target_hit"] >= PROBE_PASS,
        "history": history,
        "train_s": round(train_s, 1),
        "s_per_step": round(train_s / cfg.steps, 3),
        "total_s": round(time.time() - t0, 1),
    }
    atomic.write_text(out / REPORT_FILE, json.dumps(report, indent=1))
    return report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=PretrainConfig.steps)
    ap.add_argument("--batch-size", type=int, default=PretrainConfig.batch_size)
    ap.add_argument("--lr", type=float, default=PretrainConfig.lr)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if (Path(args.out) / VISION_FILE).exists():
        print(json.dumps({"out": args.out, "skipped": "exists"}))
        return
    cfg = PretrainConfig(
        data=args.data, out=args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed
    )
    report = pretrain(cfg)
    keys = ("probe_before", "probe_after", "probe_passed", "train_s", "s_per_step")
    print(json.dumps({k: report[k] for k in keys}))


if __name__ == "__main__":
    main()
