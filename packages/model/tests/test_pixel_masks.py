"""The pixel mask that goes with every prompt type (derive_pixel_mask), and the stage-2 batches that
feed it to the pixel-aware encoder with every prompt (issue #15)."""

from __future__ import annotations

import numpy as np
from pixelvla import prompts as P
from pixelvla import rle
from pixelvla.pixel_encoder import POINT_RADIUS, derive_pixel_mask


def test_box_point_line_and_mask_each_draw_their_own_pixels() -> None:
    n = 100
    box = derive_pixel_mask([P.Box(0.2, 0.3, 0.5, 0.6)], n)
    assert box is not None and box[30:60, 20:50].all() and box.sum() == 30 * 30

    pt = derive_pixel_mask([P.Point(0.5, 0.5)], n)
    assert pt is not None and pt[50, 50] and pt.sum() > 0
    rows, cols = np.nonzero(pt)
    dist = np.hypot((rows + 0.5) / n - 0.5, (cols + 0.5) / n - 0.5)
    assert dist.max() <= POINT_RADIUS  # a disc of the documented radius
    assert derive_pixel_mask([P.Point(0.5, 0.5, positive=False)], n) is None  # negative: no pixels

    line = derive_pixel_mask([P.Line(((0.1, 0.5), (0.9, 0.5)))], n)
    assert line is not None and line[50, 10:90].all() and not line[20].any()

    m = np.zeros((40, 40), bool)
    m[10:20, 5:15] = True
    own = derive_pixel_mask([P.Mask(dict(rle.encode(m)))], 40)
    assert own is not None and np.array_equal(own, m)

    both = derive_pixel_mask([P.Point(0.2, 0.2), P.Point(0.8, 0.8)], n)
    assert both is not None and both[20, 20] and both[80, 80]  # several prompts: the union
    assert derive_pixel_mask([]) is None


def test_a_huge_declared_mask_is_read_from_its_runs() -> None:
    """A client's 16384 x 16384 RLE is never decoded (prompts.pixel_mask_grid's rule)."""
    side = 16384
    full = {"size": [side, side], "counts": [0, side * side]}
    out = derive_pixel_mask([P.Mask(full)], 32)
    assert out is not None and out.all()
