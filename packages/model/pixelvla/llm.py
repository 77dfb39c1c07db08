"""The language model: a Llama-architecture decoder from transformers (tiny, or Llama-2-7B)."""

from __future__ import annotations

from transformers import LlamaConfig, LlamaForCausalLM

from pixelvla.config import LLMConfig


def llama_config(cfg: LLMConfig) -> LlamaConfig:
    config = LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        rms_norm_eps=cfg.rms_norm_eps,
        max_position_embeddings=cfg.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
        tie_word_embeddings=cfg.tie_word_embeddings,
        attention_bias=False,
        mlp_bias=False,
    )
    config._attn_implementation = "sdpa"
    return config


def build_llm(cfg: LLMConfig) -> LlamaForCausalLM:
    return LlamaForCausalLM(llama_config(cfg))
