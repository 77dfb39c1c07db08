"""A sampler whose position is part of the training state, so a resumed run sees the same batches.

Each epoch is a permutation drawn from a generator seeded by (seed, epoch): no hidden RNG state, so
the order after a resume does not depend on what else consumed random numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass
class SamplerState:
    epoch: int = 0
    position: int = 0  # index into the epoch's permutation of the next sample


class ResumableSampler:
    def __init__(self, num_samples: int, *, seed: int, rank: int = 0, world_size: int = 1):
        if num_samples <= 0:
            raise ValueError("the dataset has no samples")
        self.num_samples = num_samples
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.state = SamplerState()

    def _permutation(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.num_samples, generator=g).tolist()
        return perm[self.rank :: self.world_size]

    def next_indices(self, batch_size: int) -> list[int]:
        """The next `batch_size` sample indices for this rank, rolling over epochs."""
        out: list[int] = []
        while len(out) < batch_size:
            perm = self._permutation(self.state.epoch)
            take = perm[self.state.position : self.state.position + batch_size - len(out)]
            out.extend(take)
            self.state.position += len(take)
            if self.state.position >= len(perm):
                self.state = SamplerState(epoch=self.state.epoch + 1, position=0)
        return out

    def state_dict(self) -> dict[str, int]:
        return asdict(self.state)

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.state = SamplerState(epoch=int(state["epoch"]), position=int(state["position"]))
