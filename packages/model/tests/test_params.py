"""Parameter report: tiny sums up, and `full` built on the meta device matches Prismatic-7B plus
the new modules within 1%, from published component sizes."""

from __future__ import annotations

import torch
from pixelvla.config import full_config, tiny_config
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.params import parameter_report
from pixelvla.stages import apply_stage

# Published sizes (parameters):
# - OpenVLA-7B / Prismatic-7B (DINOv2 ViT-L/14-reg + SigLIP SO400M/14 + fused projector + Llama-2-7B
#   with its vocabulary padded to 32064): 7,541,237,184 (the openvla/openvla-7b safetensors total),
#   of which Llama-2-7B 6.74B (6,738,415,616 at 32000 tokens), DINOv2 ViT-L/14 ~304M, SigLIP
#   SO400M ~428M (vision tower incl. its attention-pool head).
OPENVLA_7B = 7_541_237_184
LLAMA2_7B = 6_738_415_616
D, DV, DS = 4096, 1024, 1152  # LLM width, DINOv2 width, SigLIP width


def expected_new_modules() -> int:
    """New PixelVLA modules from the paper's shapes (and our stated choices)."""
    linear = lambda i, o: i * o + o  # noqa: E731
    pixel = 4 * linear(DS, D) + 2 * linear(D, D) + D  # Gamma_1..4, MLP D->D->D, "no mask"
    prompt_server = linear(256, D) + linear(D, D)  # MLP 256 -> D -> D
    decoder = linear(7 * D, D) + 2 * (2 * D + linear(D, D)) + 2 * D + linear(D, D) + linear(D, 7)
    slots = D + 8 * 7 * D
    return pixel + prompt_server + decoder + slots


def test_full_on_meta_device_matches_published_counts() -> None:
    with torch.device("meta"):
        model = PixelVLA(full_config())
    assert all(p.device.type == "meta" for p in model.parameters())
    report = parameter_report(model)
    mods = report["modules"]
    assert abs(report["backbone"] - OPENVLA_7B) / OPENVLA_7B < 0.01
    assert abs(mods["llm"] - LLAMA2_7B) / LLAMA2_7B < 0.01
    assert abs(mods["vision.featurizer"] - 304e6) / 304e6 < 0.01
    assert abs(mods["vision.fused_featurizer"] - 428e6) / 428e6 < 0.01
    assert mods["projector"] == 2176 * 8704 + 8704 + 8704 * 4096 + 4096 + 4096 * 4096 + 4096
    expected_total = OPENVLA_7B + expected_new_modules()
    # The browser half of the prompt encoder (~9K) is the only module outside the formula.
    assert abs(report["total"] - expected_total) / expected_total < 0.01
    assert report["total"] == sum(mods.values())

    # The whole forward runs on meta too: shapes of every stage for the paper's sizes.
    x = ModelInputs(
        pixel_values=torch.zeros(1, 3, 224, 224, device="meta"),
        input_ids=torch.zeros(1, 20, dtype=torch.long, device="meta"),
        text_mask=torch.ones(1, 20, dtype=torch.bool, device="meta"),
    )
    feats = model.vision(x.pixel_values)
    assert feats.patches.shape == (1, 256, 2176)
    assert [f.shape for f in feats.levels] == [(1, 256, 1152)] * 4
    assert model(x).actions.shape == (1, 8, 7)


def test_tiny_report_and_stage_trainable_counts() -> None:
    torch.manual_seed(0)
    model = PixelVLA(tiny_config())
    report = parameter_report(model)
    assert report["total"] == sum(p.numel() for p in model.parameters())
    assert report["total"] == report["backbone"] + report["new"]
    assert 3e6 < report["total"] < 6.5e6  # the bundle stays under 25 MB in float32
    apply_stage(model, "stage2")
    report2 = parameter_report(model)
    assert report2["lora"] > 0
    assert report2["trainable"] == report2["lora"] + report2["new"]
