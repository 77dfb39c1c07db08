"""A small OpenVLA folder in the Hugging Face release's layout, for the import and FSDP tests:
PrismaticConfig config.json (timm ids, image sizes, a sparse text_config, pad_to_multiple_of,
norm_stats with the gripper mask for two datasets), bf16 weights in two shards +
model.safetensors.index.json under OpenVLA's key names, a Llama-style tokenizer (byte fallback,
"\u2581" pieces, <PAD> added after the vocabulary); and OpenVLA's predict_action re-implemented on
the source weights. Also a small annotated LeRobot dataset to train on."""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
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
from pixelvla.model import PixelVLA

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


ACTION_NAMES = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]


def write_dataset(root: Path, episodes: int = 2, frames: int = 10, size: int = 48) -> Path:
    """A LeRobot dataset of a red square drifting right, annotated the Pixel-160K way (a point, a
    line, a box and the mask on the first frame), 7-D actions and an 8-D state."""
    from pixelvla import prompts as P
    from pixelvla import rle

    w = LeRobotWriter(
        root,
        cameras={"front": (size, size)},
        state_names=[f"s{i}" for i in range(8)],
        action_names=ACTION_NAMES,
    )
    rng = np.random.default_rng(0)
    for i in range(episodes):
        video = np.zeros((frames, size, size, 3), np.uint8)
        x0, y0 = (int(v) for v in rng.integers(4, size // 2, size=2))
        for t in range(frames):
            video[t, ..., 2] = 40
            video[t, y0 : y0 + 12, x0 + t // 3 : x0 + 12 + t // 3] = (220, 40, 40)
        mask = np.zeros((size, size), bool)
        mask[y0 : y0 + 12, x0 : x0 + 12] = True
        prompts = [
            P.Point((x0 + 6) / size, (y0 + 6) / size),
            P.Line((((x0 + 1) / size, (y0 + 6) / size), ((x0 + 11) / size, (y0 + 6) / size))),
            P.Box(x0 / size, y0 / size, (x0 + 12) / size, (y0 + 12) / size),
            P.Mask(dict(rle.encode(mask))),
        ]
        actions = rng.normal(0, 0.01, (frames, 7)).astype(np.float32)
        actions[:, 6] = (np.arange(frames) > frames // 2).astype(np.float32)
        annotation = {
            "accepted": True,
            "target_object": "obj0",
            "mask_rle": dict(rle.encode(mask)),
            "prompts": P.prompts_to_json(prompts),
            "decisions": [],
        }
        record = EpisodeRecord(
            frames={"front": video},
            actions=actions,
            states=rng.normal(size=(frames, 8)).astype(np.float32),
            task="pick up the red cube",
            annotation=annotation,
        )
        w.write_episode(i, record)
    w.finalize()
    return root
