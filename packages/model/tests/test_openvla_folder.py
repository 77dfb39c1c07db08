"""An OpenVLA folder as the Hugging Face release lays it out, small: PrismaticConfig config.json
(timm ids, image sizes, a sparse text_config, pad_to_multiple_of, norm_stats with the gripper mask
for two datasets), bf16 weights in two shards + model.safetensors.index.json under OpenVLA's key
names, a Llama-style tokenizer (byte fallback, "\u2581" pieces, <PAD> added after the vocabulary).

`pixelvla import openvla` turns it into a bundle whose predictions are OpenVLA's: the test
re-implements OpenVLA's predict_action (prompt, trailing "\u2581", greedy tokens, its de-tokenisation
and un-normalisation) on the source weights. `pixelvla train stage1 --init FOLDER` trains from it.
"""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from pixelvla import cli
from pixelvla.checkpoint import CheckpointError, load_bundle
from pixelvla.config import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LLMConfig,
    PixelVLAConfig,
    TokenizerConfig,
    TowerConfig,
    VisionConfig,
    full_config,
)
from pixelvla.data import EpisodeRecord, LeRobotWriter
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.openvla_import import import_openvla, is_openvla_folder, map_openvla_key
from pixelvla.policy import Observation, Policy

SP = "\u2581"
TEXT_VOCAB = 512  # the tokenizer's own size; <PAD> is 512, the table is padded to 576
PAD_TO = 64
DINO = "vit_small_patch14_reg4_dinov2"
SIGLIP = "vit_so400m_patch14_siglip_224"
MASK = [True] * 6 + [False]
Q01 = [-0.02, -0.03, -0.01, -0.1, -0.2, -0.15, 0.0]
Q99 = [0.03, 0.02, 0.04, 0.12, 0.1, 0.2, 1.0]


def base_config() -> PixelVLAConfig:
    """The architecture the importer is given (--model): `full`'s structure with toy towers."""
    full = full_config()
    return dataclasses.replace(
        full,
        name="full-toy",
        vision=VisionConfig(
            image_size=224,  # the OpenVLA config's image_sizes wins
            patch_size=14,
            featurizer=TowerConfig(
                arch=DINO,
                overrides={"embed_dim": 32, "depth": 3, "num_heads": 2},
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
            ),
            fused_featurizer=TowerConfig(
                arch=SIGLIP, overrides={"embed_dim": 24, "depth": 4, "num_heads": 2}
            ),
            pixel_tower="fused_featurizer",
            pixel_levels=(0, 1, 2),
        ),
    )


def source_config() -> PixelVLAConfig:
    """What the OpenVLA checkpoint below is, written out independently of the importer."""
    base = base_config()
    return dataclasses.replace(
        base,
        vision=dataclasses.replace(base.vision, image_size=56),
        llm=LLMConfig(
            vocab_size=TEXT_VOCAB + PAD_TO,
            hidden_size=64,
            intermediate_size=128,
            num_layers=2,
            num_heads=2,
            num_kv_heads=2,
            rms_norm_eps=1e-6,  # LlamaConfig's default: OpenVLA's text_config does not set it
            activation_checkpointing=True,
        ),
        tokenizer=TokenizerConfig(
            kind="llama", vocab_size=TEXT_VOCAB, bos_token_id=1, eos_token_id=2, pad_token_id=512
        ),
        head="tokens",
        use_pixel_encoder=False,
        use_prompt_encoder=False,
        prompt_template="In: What action should the robot take to {task}?\nOut:",
        text_suffix_ids=(259,),
    )


def write_tokenizer(folder: Path) -> None:
    """Llama-2's layout in miniature: 0 <unk>, 1 <s>, 2 </s>, 3..258 byte fallback, 259 "\u2581", then
    characters and "\u2581"+character pieces, fillers up to 512; <PAD> added (OpenVLA's pad)."""
    from tokenizers import Tokenizer, decoders, models, normalizers
    from transformers import LlamaTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    vocab[SP] = len(vocab)
    chars = [c for c in string.printable if not c.isspace()]
    vocab.update({c: len(vocab) + i for i, c in enumerate(chars)})
    vocab.update({SP + c: len(vocab) + i for i, c in enumerate(chars)})
    vocab.update({f"<extra_{i}>": i + len(vocab) for i in range(TEXT_VOCAB - len(vocab))})
    assert len(vocab) == TEXT_VOCAB
    tok = Tokenizer(
        models.BPE(vocab=vocab, merges=[(SP, c) for c in chars], unk_token="<unk>", byte_fallback=True)
    )
    tok.normalizer = normalizers.Sequence([normalizers.Prepend(SP), normalizers.Replace(" ", SP)])
    tok.decoder = decoders.Sequence([decoders.Replace(SP, " "), decoders.ByteFallback(), decoders.Fuse()])
    hf = LlamaTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", add_bos_token=True
    )
    hf.add_special_tokens({"pad_token": "<PAD>"})
    hf.save_pretrained(folder)


def _stats(q01: list[float], q99: list[float]) -> dict[str, object]:
    action = {
        "mask": MASK,
        "q01": q01,
        "q99": q99,
        "mean": [0.0] * 7,
        "std": [1.0] * 7,
        "min": [v * 2 for v in q01],
        "max": [v * 2 for v in q99],
    }
    proprio = {k: [0.0] * 7 for k in ("mean", "std", "max", "min", "q01", "q99")}
    return {"action": action, "proprio": proprio, "num_transitions": 100, "num_trajectories": 4}


def to_openvla_key(ours: str) -> str | None:
    for mine, theirs in (
        ("vision.featurizer.", "vision_backbone.featurizer."),
        ("vision.fused_featurizer.", "vision_backbone.fused_featurizer."),
        ("projector.", "projector."),
        ("llm.", "language_model."),
    ):
        if ours.startswith(mine):
            key = theirs + ours[len(mine) :]
            return key.replace(".ls1.gamma", ".ls1.scale_factor").replace(".ls2.gamma", ".ls2.scale_factor")
    return None


def write_openvla(folder: Path, seed: int = 0) -> PixelVLA:
    """The folder, and the source model (fp32 holding the bf16 values the checkpoint stores)."""
    folder.mkdir(parents=True)
    torch.manual_seed(seed)
    source = PixelVLA(source_config()).eval()
    with torch.no_grad():
        # Logit 0 for every non-action id, so OpenVLA's unrestricted argmax picks action tokens.
        source.llm.lm_head.weight[: TEXT_VOCAB - 256].zero_()
        source.llm.lm_head.weight[TEXT_VOCAB:].zero_()
        for p in source.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    tensors = {}
    for k, v in source.state_dict().items():
        key = to_openvla_key(k)
        if key is not None:
            tensors[key] = v.to(torch.bfloat16).contiguous()
    keys = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    weight_map: dict[str, str] = {}
    for name, shard_keys in shards.items():
        safetensors.torch.save_file({k: tensors[k] for k in shard_keys}, str(folder / name), {"format": "pt"})
        weight_map.update(dict.fromkeys(shard_keys, name))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    )
    config = {
        "arch_specifier": "no-align+fused-gelu-mlp",
        "architectures": ["OpenVLAForActionPrediction"],
        "auto_map": {
            "AutoConfig": "configuration_prismatic.OpenVLAConfig",
            "AutoModelForVision2Seq": "modeling_prismatic.OpenVLAForActionPrediction",
        },
        "hf_llm_id": "meta-llama/Llama-2-7b-hf",
        "image_resize_strategy": "resize-naive",
        "image_sizes": [56, 56],
        "llm_backbone_id": "llama2-7b-pure",
        "llm_max_length": 2048,
        "model_type": "openvla",
        "n_action_bins": 256,
        "norm_stats": {
            "bridge_orig": _stats(Q01, Q99),
            "fractal20220817_data": _stats([-1.0] * 7, [1.0] * 7),
        },
        "output_projector_states": False,
        "pad_to_multiple_of": PAD_TO,
        "pad_token_id": 512,
        "text_config": {
            "model_type": "llama",
            "pad_token_id": 512,
            "torch_dtype": "bfloat16",
            "vocab_size": TEXT_VOCAB + PAD_TO,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
        },
        "timm_model_ids": [f"{DINO}.lvd142m", SIGLIP],
        "timm_override_act_layers": [None, None],
        "torch_dtype": "bfloat16",
        "transformers_version": "4.40.1",
        "use_fused_vision_backbone": True,
        "vision_backbone_id": "dinosiglip-vit-so-224px",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    write_tokenizer(folder)
    return source


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


def openvla_predict_action(
    source: PixelVLA, folder: Path, pixels: torch.Tensor, instruction: str
) -> np.ndarray:
    """OpenVLA's predict_action on the source weights, written from its description: prompt with
    the lower-cased instruction, BOS, 29871 ("\u2581") appended, patch embeddings after BOS, 7 greedy
    tokens over the whole vocabulary, vocab_size - token - 1 -> bin centre, q01/q99 where mask."""
    from transformers import LlamaTokenizerFast

    tok = LlamaTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    prompt = f"In: What action should the robot take to {instruction.lower()}?\nOut:"
    ids = tok(prompt).input_ids
    space = tok.convert_tokens_to_ids(SP)
    if ids[-1] != space:
        ids = [*ids, space]
    ids_t = torch.tensor([ids])
    embed = source.llm.get_input_embeddings()
    generated: list[int] = []
    with torch.no_grad():
        patches = source.projector(source.vision(pixels).patches)
        for _ in range(7):
            text = embed(torch.cat([ids_t, torch.tensor([generated], dtype=torch.long)], 1))
            x = torch.cat([text[:, :1], patches, text[:, 1:]], 1)
            logits = source.llm(inputs_embeds=x).logits[0, -1]
            generated.append(int(logits.argmax()))
    vocab = 576 - PAD_TO
    bins = np.linspace(-1, 1, 256)
    centers = (bins[:-1] + bins[1:]) / 2.0
    normalized = centers[np.clip(vocab - np.array(generated) - 1, 0, 254)]
    high, low, mask = np.array(Q99), np.array(Q01), np.array(MASK)
    return np.where(mask, 0.5 * (normalized + 1) * (high - low) + low, normalized)


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
    data = tmp_path / "data" / "toy"
    w = LeRobotWriter(
        data,
        cameras={"front": (48, 48)},
        state_names=[f"s{i}" for i in range(8)],
        action_names=["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"],
    )
    rng = np.random.default_rng(0)
    for i in range(2):
        frames = rng.integers(0, 256, (6, 48, 48, 3), dtype=np.uint8)
        actions = rng.normal(0, 0.01, (6, 7)).astype(np.float32)
        actions[:, 6] = [0, 0, 0, 1, 1, 1]
        w.write_episode(
            i,
            EpisodeRecord(
                frames={"front": frames},
                actions=actions,
                states=np.zeros((6, 8), np.float32),
                task="pick up the cube",
            ),
        )
    w.finalize()
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
