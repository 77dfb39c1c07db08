"""Schemas shared by several rooms (one name each in /openapi.json, so the studio's TS types stay clean)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RleMask(BaseModel):
    """A COCO run-length encoded mask: size [H, W], counts as the compressed string or a list of runs."""

    size: list[int] = Field(min_length=2, max_length=2)
    counts: str | list[int] = Field(max_length=4_000_000)


class ObservationSpec(BaseModel):
    """What the served model takes in one observation (pixelvla.observation.ObservationSpec): clients
    read their limits here instead of copying them."""

    image_size: int = Field(description="the model's input side; frames are resized to it")
    cameras: int = Field(description="images per observation")
    max_image_side: int = Field(description="largest accepted side of a frame, in pixels")
    max_instruction_chars: int
    prompt_tokens: list[int] = Field(
        min_length=2, max_length=2, description="[N_s, dim] of prompt_tokens (f32) and [N_s] of prompt_valid"
    )
    max_prompts: int = Field(description="prompt JSON objects, encoded server-side")
    max_prompt_masks: int = Field(description="mask prompts among them (prompt-encoder slots)")
    max_pixel_masks: int = Field(description="COCO RLE pixel masks")
    max_mask_side: int = Field(description="largest side an RLE may declare")
    state_dim: int = Field(description="state values the model takes; 0: none (a state is then unused)")
    max_state_values: int


class PolicyMetadata(BaseModel):
    id: str = Field(description="registry id (folder name)")
    model_id: str = Field(description="content hash of the weights")
    name: str
    config: str
    chunk_size: int
    action_dim: int
    image_size: int
    encoder_hash: str | None
    normalization_key: str | None
    observation: ObservationSpec = Field(description="what one observation may hold, for this model")
    grounds_text: bool = Field(
        default=False, description="it has a text grounder: predictions say what the instruction names"
    )
    grounds_targets: bool = Field(
        default=False,
        description="it adds the container its grounder finds as a second mask prompt: send prompts as "
        "JSON, not browser tokens, so the server can",
    )
