"""The text grounder: which pixels of the camera frame an instruction names (ours, issue #15).

The paper's annotation pipeline finds the object an instruction names with a detector and a
segmenter (Grounding DINO, SAM) and gives PixelVLA its mask. The tiny demo has neither, and a policy
that learned to act only from the drawn prompt's coordinates does nothing useful with text alone.
This small model plays that pipeline's part inside a bundle: from the frame and the instruction it
predicts two masks, the object the instruction acts on ("the red cube", or every cube for "the
cube") and the container it names ("in the box"), trained on the simulator's exact segmentation
(pixelvla.train.text_grounder on pixelvla_sim.vision_data's queries).

The policy uses it two ways (pixelvla.policy):
- no drawn prompt: the object mask becomes the prompt (a mask prompt and the pixel mask), so text
  reaches the policy through the same path as a drawn mask; an object it cannot find confidently
  leaves the observation as it was;
- a drawn prompt: the prompt wins, and the grounding says whether the two agree (the studio's
  "instruction and prompt disagree" hint).

Text is read as lower-cased UTF-8 bytes (any instruction, no vocabulary); the image is the frame
resized to `image_size` the way the policy resizes it. Weights: ``text_grounder.safetensors`` with
its config in ``text_grounder.json`` beside a bundle (optional: a bundle without it has no grounding).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pixelvla.errors import PixelVLAError

WEIGHTS_FILE = "text_grounder.safetensors"
CONFIG_FILE = "text_grounder.json"
ROLES = ("object", "target")


class GrounderError(PixelVLAError):
    default_code = "invalid_text_grounder"


@dataclass(frozen=True)
class GrounderConfig:
    image_size: int = 112
    width: int = 16  # image features at 1/2 resolution; 2 x width at 1/4
    text_dim: int = 64
    max_text_bytes: int = 128
    # A mask is "found" when its most confident pixel passes this and it covers at least min_pixels.
    threshold: float = 0.5
    min_pixels: int = 4
    # Set when a policy's stage 2 trained with it (TrainConfig.text_grounder): the found container
    # then joins every observation as a second mask prompt, as it did in training.
    targets_as_prompt: bool = False

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GrounderConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise GrounderError(f"unknown text grounder config fields {sorted(unknown)}")
        return cls(**d)


def text_bytes(instructions: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower-cased UTF-8 bytes + 1 (0 is padding), cut at max_len: ids (B, L) and validity (B, L)."""
    rows = [list(s.strip().lower().encode("utf-8"))[:max_len] or [32] for s in instructions]
    length = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), length), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r) + 1
    return ids, ids > 0


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)


class TextGrounder(nn.Module):
    """(image (B, 3, S, S) in [0, 1], instruction bytes) -> mask logits (B, 2, S/2, S/2): object, target."""

    def __init__(self, cfg: GrounderConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or GrounderConfig()
        d, w = cfg.text_dim, cfg.width
        # Text: bytes -> two dilated 1-D convolutions (a window of ~13 bytes: a word and its
        # neighbours) -> one attention read-out per role.
        self.byte_embed = nn.Embedding(257, d, padding_idx=0)
        self.text_pos = nn.Parameter(torch.randn(cfg.max_text_bytes, d) * 0.02)
        self.text_conv = nn.ModuleList(
            [nn.Conv1d(d, d, 5, padding=2), nn.Conv1d(d, d, 5, padding=4, dilation=2)]
        )
        self.role_query = nn.Parameter(torch.randn(len(ROLES), d) * 0.02)
        self.role_film = nn.Linear(d, 4 * w)  # scale and shift of the 1/4 features
        # Image: 1/2 and 1/4 resolution features, with each pixel's normalised position.
        self.stem = nn.Sequential(_conv(5, w, stride=2), nn.GELU(), _conv(w, w), nn.GELU())
        self.down = nn.Sequential(
            _conv(w, 2 * w, stride=2),
            nn.GELU(),
            _conv(2 * w, 2 * w),
            nn.GELU(),
            _conv(2 * w, 2 * w, dilation=2),
        )
        self.head_low = nn.Sequential(nn.GELU(), _conv(2 * w, 2 * w), nn.GELU(), nn.Conv2d(2 * w, w, 1))
        self.head_high = nn.Sequential(_conv(w, w), nn.GELU(), nn.Conv2d(w, 1, 1))

    def encode_text(self, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, L) byte ids -> (B, roles, text_dim)."""
        h = self.byte_embed(ids) + self.text_pos[: ids.shape[1]]
        h = h.transpose(1, 2)
        for conv in self.text_conv:
            h = h + F.gelu(conv(h))
        h = h.transpose(1, 2)  # (B, L, d)
        scores = torch.einsum("rd,bld->brl", self.role_query, h) * h.shape[-1] ** -0.5
        scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
        return torch.einsum("brl,bld->brd", scores.softmax(-1), h)

    def forward(self, pixels: torch.Tensor, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        b, _, s, _ = pixels.shape
        ys, xs = torch.meshgrid(
            torch.linspace(-1, 1, s, device=pixels.device),
            torch.linspace(-1, 1, s, device=pixels.device),
            indexing="ij",
        )
        where = torch.stack([xs, ys]).expand(b, 2, s, s).to(pixels.dtype)
        half = self.stem(torch.cat([pixels * 2 - 1, where], 1))  # (B, w, S/2, S/2)
        quarter = self.down(half)  # (B, 2w, S/4, S/4)
        roles = self.encode_text(ids, valid)  # (B, R, d)
        r = roles.shape[1]
        scale, shift = self.role_film(roles).chunk(2, dim=-1)  # (B, R, 2w) each
        q = quarter[:, None] * (1 + scale[..., None, None]) + shift[..., None, None]  # (B, R, 2w, ., .)
        low = self.head_low(q.flatten(0, 1))  # (B R, w, S/4, S/4)
        up = F.interpolate(low, scale_factor=2, mode="bilinear", align_corners=False)
        high = self.head_high(up + half.repeat_interleave(r, 0))  # (B R, 1, S/2, S/2)
        return high.view(b, r, *high.shape[-2:])  # at half the image size: upsampled by the caller


@dataclass(frozen=True)
class Grounding:
    """The masks an instruction names in one frame: bool (S, S) at the grounder's image size (the
    frame resized without cropping, so normalised coordinates are the frame's), or None when not
    found; `score` is the most confident pixel's probability."""

    object_mask: np.ndarray | None
    target_mask: np.ndarray | None
    object_score: float
    target_score: float
    # The object mask's separate regions (8-connected, >= min_pixels), most confident first: "the
    # cube" in a scene of three cubes is three. The policy acts on the first.
    object_parts: tuple[np.ndarray, ...] = ()

    @property
    def object(self) -> np.ndarray | None:
        """What to act on: the likeliest region, or the whole mask when no region is big enough alone."""
        return self.object_parts[0] if self.object_parts else self.object_mask


def save(model: TextGrounder, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / WEIGHTS_FILE))
    (folder / CONFIG_FILE).write_text(json.dumps(asdict(model.cfg), indent=2))


def load(folder: Path) -> TextGrounder | None:
    """The grounder stored beside a bundle, or None when it has none; GrounderError when present but
    unreadable."""
    weights, config = folder / WEIGHTS_FILE, folder / CONFIG_FILE
    if not weights.exists() and not config.exists():
        return None
    from safetensors.torch import load_file

    try:
        cfg = GrounderConfig.from_json(json.loads(config.read_text()))
        model = TextGrounder(cfg)
        model.load_state_dict(load_file(str(weights)))
    except GrounderError:
        raise
    except Exception as exc:  # a missing half, a truncated file, keys of another shape
        raise GrounderError(
            f"text grounder in {folder} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    return model.eval()


def _found(prob: np.ndarray, cfg: GrounderConfig) -> np.ndarray | None:
    mask = prob >= cfg.threshold
    return mask if int(mask.sum()) >= cfg.min_pixels else None


def regions(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected regions of a bool mask, as bool masks of its shape."""
    label = np.zeros(mask.shape, np.int32)
    h, w = mask.shape
    out: list[np.ndarray] = []
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if label[y0, x0]:
            continue
        n = len(out) + 1
        label[y0, x0] = n
        stack = [(int(y0), int(x0))]
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    v, u = y + dy, x + dx
                    if 0 <= v < h and 0 <= u < w and mask[v, u] and not label[v, u]:
                        label[v, u] = n
                        stack.append((v, u))
        out.append(label == n)
    return out


def _parts(mask: np.ndarray | None, prob: np.ndarray, cfg: GrounderConfig) -> tuple[np.ndarray, ...]:
    if mask is None:
        return ()
    parts = [r for r in regions(mask) if int(r.sum()) >= cfg.min_pixels]
    return tuple(sorted(parts, key=lambda r: -float(prob[r].sum())))


@torch.inference_mode()
def ground(model: TextGrounder, image: np.ndarray, instruction: str) -> Grounding:
    """uint8 (H, W, 3) frame and an instruction -> the masks (Grounding)."""
    from pixelvla.vision import images_to_pixels

    cfg = model.cfg
    frame = np.array(image, order="C")  # a writable copy: frames decoded from the wire are read-only views
    pixels = images_to_pixels(torch.from_numpy(frame)[None], cfg.image_size)
    ids, valid = text_bytes([instruction], cfg.max_text_bytes)
    logits = model(pixels, ids, valid)  # (1, 2, S, S)
    s = cfg.image_size
    prob = torch.sigmoid(F.interpolate(logits, size=(s, s), mode="bilinear", align_corners=False))[0].numpy()
    obj = _found(prob[0], cfg)
    return Grounding(
        object_mask=obj,
        target_mask=_found(prob[1], cfg),
        object_score=float(prob[0].max()),
        target_score=float(prob[1].max()),
        object_parts=_parts(obj, prob[0], cfg),
    )
