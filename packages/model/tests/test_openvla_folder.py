"""`pixelvla import openvla` on a small OpenVLA folder in the release's layout (openvla_toy.py)
gives a bundle whose predictions are OpenVLA's own: the test re-implements OpenVLA's predict_action
(prompt, trailing "\u2581", greedy tokens, its de-tokenisation and un-normalisation) on the source
weights. `pixelvla train stage1 --init FOLDER` trains from it; bad folders are typed errors.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from openvla_toy import (
    base_config,
    openvla_predict_action,
    source_config,
    to_openvla_key,
    write_dataset,
    write_openvla,
)
from pixelvla import cli
from pixelvla.checkpoint import CheckpointError, load_bundle
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.openvla_import import import_openvla, is_openvla_folder, map_openvla_key
from pixelvla.policy import Observation, Policy


@pytest.fixture(scope="module")
def openvla(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, PixelVLA]:
    root = tmp_path_factory.mktemp("openvla")
    source = write_openvla(root / "openvla-toy")
    base = root / "base_config.json"
    base.write_text(base_config().to_json())
    return root / "openvla-toy", base, source


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_import_cli_report_and_the_bundle_predicts_what_openvla_predicts(
    openvla: tuple[Path, Path, PixelVLA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, base, source = openvla
    assert is_openvla_folder(folder)
    # Two datasets' statistics and no key: a typed error naming them.
    code, _, err = _cli(
        ["import", "openvla", str(folder), "--out", str(tmp_path / "b"), "--model", str(base)], capsys
    )
    assert code == 2 and "invalid_checkpoint" in err and "bridge_orig" in err

    bundle = tmp_path / "openvla-bundle"
    argv = ["import", "openvla", str(folder), "--out", str(bundle), "--model", str(base)]
    code, out, err = _cli([*argv, "--unnorm-key", "bridge_orig", "--dtype", "float32"], capsys)
    assert code == 0, err
    report = json.loads(out)
    n_ckpt = len(json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"])
    backbone = {k: v for k, v in source.state_dict().items() if to_openvla_key(k) is not None}
    assert report["tensors"]["loaded"] == n_ckpt == len(backbone)
    assert report["tensors"]["unexpected"] == 0
    new = [n for n, _ in source.named_parameters() if to_openvla_key(n) is None]
    assert report["params"]["loaded"] == sum(v.numel() for v in backbone.values())
    assert report["params"]["new"] == sum(p.numel() for n, p in source.named_parameters() if n in new)
    assert report["params"]["total"] == sum(p.numel() for p in source.parameters())
    assert set(report["missing_by_module"]) <= {
        "action_decoder",
        "action_slot",
        "action_slot_pos",
        "pixel_encoder",
        "prompt_encoder",
        "prompt_projector",
    }

    # The bundle: OpenVLA's config choices, its tokenizer files only, its statistics.
    loaded = load_bundle(bundle)
    cfg = loaded.config
    expected = source_config()
    assert cfg.llm == expected.llm and cfg.vision == expected.vision
    assert cfg.action.token_layout == "openvla" and cfg.head == "tokens" and cfg.text_suffix_ids == (259,)
    assert dataclasses.replace(cfg.tokenizer, path=None) == expected.tokenizer
    assert cfg.prompt_template == expected.prompt_template
    assert not any(p.suffix == ".safetensors" for p in (bundle / "tokenizer").iterdir())
    assert loaded.normalizer.key == "bridge_orig" and loaded.normalizer.gripper == "passthrough"
    src = source.state_dict()
    for k, v in loaded.model.state_dict().items():
        if to_openvla_key(k) is not None:
            assert torch.equal(v, src[k]), k

    # Served through the Policy, it predicts what OpenVLA's predict_action predicts.
    policy = Policy.load(bundle)
    image = np.random.default_rng(1).integers(0, 256, (80, 100, 3), dtype=np.uint8)
    for instruction in ("Pick up the red cube", "put the spoon in the pot"):
        pred = policy.predict(Observation(image=image, instruction=instruction))
        ref = openvla_predict_action(source, folder, policy.preprocess_image(image), instruction)
        assert pred.actions.shape == (1, 7)
        np.testing.assert_allclose(pred.actions[0], ref, rtol=0, atol=1e-6)


def test_stage1_from_the_openvla_folder_trains_saves_and_predicts(
    openvla: tuple[Path, Path, PixelVLA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, base, source = openvla
    data = write_dataset(tmp_path / "data" / "toy")
    run = tmp_path / "s1"
    argv = ["train", "stage1", "--dataset", str(data), "--init", str(folder), "--model", str(base)]
    argv += ["--run-dir", str(run), "--steps", "2", "--batch-size", "2", "--quiet"]
    argv += ["--set", "warmup_steps=1", "--set", "tensorboard=false", "--set", "log_every=1"]
    code, out, err = _cli(argv, capsys)
    assert code == 0, err
    bundle = Path(json.loads(out.strip().splitlines()[-1])["bundle"])
    loaded = load_bundle(bundle)
    assert loaded.config.head == "continuous" and loaded.manifest["stage"] == "stage1"
    # The backbone stayed OpenVLA's (frozen in stage 1); the decoder trained.
    src = source.state_dict()
    state = loaded.model.state_dict()
    assert all(torch.equal(state[k], src[k]) for k in src if k.startswith(("llm.", "vision.", "projector.")))
    assert not (bundle / "tokenizer" / "model-00001-of-00002.safetensors").exists()
    pred = Policy.load(bundle).predict(
        Observation(image=np.zeros((48, 48, 3), np.uint8), instruction="pick up the cube")
    )
    assert pred.actions.shape == (8, 7) and np.isfinite(pred.actions).all()


def test_import_errors_are_typed(openvla: tuple[Path, Path, PixelVLA], tmp_path: Path) -> None:
    folder, base, _ = openvla
    from pixelvla.config import load_config

    # The default base (`full`) has other towers than this checkpoint: said so, before any work.
    with pytest.raises(CheckpointError, match="towers match"):
        import_openvla(folder, tmp_path / "tok", unnorm_key="bridge_orig")
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in folder.iterdir():
        (broken / p.name).symlink_to(p)
    (broken / "tokenizer_config.json").unlink()
    with pytest.raises(CheckpointError, match="no Llama tokenizer"):
        import_openvla(broken, tmp_path / "tok2", base=load_config(str(base)), unnorm_key="bridge_orig")
    wrong_vocab = tmp_path / "wrong"
    wrong_vocab.mkdir()
    for p in folder.iterdir():
        if p.name != "config.json":
            (wrong_vocab / p.name).symlink_to(p)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["pad_to_multiple_of"] = 32
    (wrong_vocab / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="vocab_size"):
        import_openvla(wrong_vocab, tmp_path / "tok3", base=load_config(str(base)), unnorm_key="bridge_orig")
    assert map_openvla_key("vision_backbone.featurizer.blocks.0.ls2.scale_factor").endswith("ls2.gamma")


def test_model_inputs_text_suffix_is_appended_after_the_text() -> None:
    """The suffix ids sit right after the valid text of each row, also with right-padded text."""
    cfg = dataclasses.replace(source_config(), text_suffix_ids=(259,))
    torch.manual_seed(0)
    model = PixelVLA(cfg).eval()
    pixels = torch.rand(2, 3, 56, 56)
    ids = torch.tensor([[300, 301, 302], [300, 301, 0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    inputs = ModelInputs(
        pixel_values=pixels, input_ids=ids, text_mask=mask, action_token_ids=torch.full((2, 7), 400)
    )
    x, valid, _ = model._sequence(inputs, lambda _: __import__("contextlib").nullcontext())
    embed = model.llm.get_input_embeddings().weight
    n = valid.sum(1)
    # row 1: ... 300 301 <259> then the 7 action tokens
    assert torch.equal(x[1, int(n[1]) - 8], embed[259]) and torch.equal(x[1, int(n[1]) - 9], embed[301])
    assert torch.equal(x[0, int(n[0]) - 8], embed[259]) and torch.equal(x[0, int(n[0]) - 9], embed[302])
