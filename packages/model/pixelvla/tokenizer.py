"""Text tokenizers: byte-level for `tiny`, the Llama tokenizer from a local folder for `full`.

Both return ids without BOS: the model places BOS itself, before the image tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pixelvla.config import BYTE_SPECIALS, TokenizerConfig
from pixelvla.errors import PixelVLAError


class TokenizerError(PixelVLAError):
    default_code = "invalid_tokenizer"


class TextTokenizer(Protocol):
    bos_token_id: int
    pad_token_id: int

    def encode(self, text: str) -> list[int]: ...


class ByteTokenizer:
    """ids: 0 pad, 1 bos, 2 eos, 3 + byte for the UTF-8 bytes; the action tokens follow."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        self.bos_token_id = cfg.bos_token_id
        self.eos_token_id = cfg.eos_token_id
        self.pad_token_id = cfg.pad_token_id

    def encode(self, text: str) -> list[int]:
        return [BYTE_SPECIALS + b for b in text.encode("utf-8")]

    def decode(self, ids: list[int]) -> str:
        data = bytes(i - BYTE_SPECIALS for i in ids if BYTE_SPECIALS <= i < BYTE_SPECIALS + 256)
        return data.decode("utf-8", errors="replace")


class LlamaTextTokenizer:
    """Llama-2's SentencePiece tokenizer, loaded only from local files (never from a hub)."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        if cfg.path is None or not Path(cfg.path).is_dir():
            raise TokenizerError(f"llama tokenizer needs a local folder with its files, got {cfg.path!r}")
        from transformers import AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(cfg.path, local_files_only=True)
        self.bos_token_id = cfg.bos_token_id
        self.pad_token_id = cfg.pad_token_id

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))


def format_instruction(template: str, instruction: str) -> str:
    """The paper's text template around a task phrase ("Pick up the cube." -> "pick up the cube").
    Training and the policy must both build text with this one function."""
    task = instruction.strip().rstrip(".?!").strip()
    if task[:1].isupper() and not task[:2].isupper():
        task = task[0].lower() + task[1:]
    return template.format(task=task)


def build_tokenizer(cfg: TokenizerConfig) -> TextTokenizer:
    if cfg.kind == "byte":
        return ByteTokenizer(cfg)
    if cfg.kind == "llama":
        return LlamaTextTokenizer(cfg)
    raise TokenizerError(f"unknown tokenizer kind {cfg.kind!r}")
