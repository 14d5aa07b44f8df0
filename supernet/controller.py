"""ENAS' architecture controller for the NAS-Bench-201 cell: an LSTM that emits one op per edge.

PROTOCOLS.md section 2 (ENAS): a 2-layer LSTM of size 32 makes 6 sequential categorical choices (one per edge, in
the official string order), each over the 5 ops. At step ``e`` the LSTM reads the embedding of the previous choice
(a learned start vector at step 0), a linear layer gives 5 logits, and the choice is drawn from

    softmax(tanh_constant * tanh(logits / temperature))      (tanh_constant 2.5, temperature 5)

so no op's logit leaves [-2.5, 2.5]: the policy can never become fully deterministic. A sample returns its summed
log-probability (with gradient, for REINFORCE) and the summed entropy of the 6 per-step distributions.

Initialisation as the NAS-Bench-201 ENAS controller: the start vector, the first LSTM layer's two weight matrices,
the embedding and the output layer's weight are uniform in [-0.1, 0.1]; everything else keeps PyTorch's default
(uniform in +-1/sqrt(lstm_size)). Draws come from a ``torch.Generator`` so that a seeded run (and its resume) repeats
exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from search_space import NUM_EDGES, NUM_OPS, Arch


@dataclass(frozen=True)
class ControllerSample:
    """One sequence of choices drawn by the controller, with what REINFORCE needs."""

    #: The op id chosen for each edge.
    ops: tuple[int, ...]
    #: Sum over the 6 choices of log p(choice) (scalar tensor, differentiable w.r.t. the controller).
    log_prob: torch.Tensor
    #: Sum over the 6 choices of the entropy of that step's distribution (scalar tensor, differentiable).
    entropy: torch.Tensor

    @property
    def arch(self) -> Arch:
        """The cell these choices make (a controller of the NAS-Bench-201 shape: 6 edges x 5 ops)."""
        return Arch(self.ops)


class Controller(nn.Module):
    """LSTM policy over the 6 edges x 5 ops of a NAS-Bench-201 cell."""

    def __init__(self, lstm_size: int = 32, lstm_layers: int = 2, tanh_constant: float = 2.5,
                 temperature: float = 5.0, init_range: float = 0.1, num_edges: int = NUM_EDGES,
                 num_ops: int = NUM_OPS, generator: torch.Generator | None = None) -> None:
        super().__init__()
        for name, value in (("lstm_size", lstm_size), ("lstm_layers", lstm_layers), ("num_edges", num_edges),
                            ("num_ops", num_ops)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Controller {name} must be a positive integer, got {value!r}")
        if not temperature > 0:
            raise ValueError(f"Controller temperature must be > 0, got {temperature!r}")
        if not tanh_constant > 0:
            raise ValueError(f"Controller tanh_constant must be > 0, got {tanh_constant!r}")
        self.lstm_size, self.lstm_layers = lstm_size, lstm_layers
        self.tanh_constant, self.temperature = float(tanh_constant), float(temperature)
        self.num_edges, self.num_ops = num_edges, num_ops
        self.start = nn.Parameter(torch.empty(1, 1, lstm_size))
        self.lstm = nn.LSTM(input_size=lstm_size, hidden_size=lstm_size, num_layers=lstm_layers)
        self.embed = nn.Embedding(num_ops, lstm_size)
        self.head = nn.Linear(lstm_size, num_ops)
        self.reset_parameters(init_range, generator)

    @torch.no_grad()
    def reset_parameters(self, init_range: float = 0.1, generator: torch.Generator | None = None) -> None:
        """PyTorch's default LSTM/Linear ranges everywhere, then [-init_range, init_range] where ENAS sets it."""
        default = 1.0 / math.sqrt(self.lstm_size)
        for p in self.lstm.parameters():
            p.uniform_(-default, default, generator=generator)
        self.head.bias.uniform_(-default, default, generator=generator)
        for p in (self.start, self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.embed.weight, self.head.weight):
            p.uniform_(-init_range, init_range, generator=generator)

    def step_logits(self, out: torch.Tensor) -> torch.Tensor:
        """The bounded logits of one choice from the LSTM output: tanh_constant * tanh(linear(out) / temperature)."""
        return self.tanh_constant * torch.tanh(self.head(out) / self.temperature)

    def forward(self, generator: torch.Generator | None = None, arch: Arch | Sequence[int] | None = None
                ) -> ControllerSample:
        """Draw an architecture (each choice from ``generator``), or, given ``arch``, score that one (teacher
        forcing: the same log-probability and entropy the controller would have reported had it drawn it)."""
        forced = None if arch is None else (arch.ops if isinstance(arch, Arch) else tuple(int(o) for o in arch))
        if forced is not None and (len(forced) != self.num_edges or not all(0 <= o < self.num_ops for o in forced)):
            raise ValueError(f"expected {self.num_edges} op ids in 0..{self.num_ops - 1}, got {arch!r}")
        inputs: torch.Tensor = self.start
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        ops: list[int] = []
        log_prob = self.start.new_zeros(())
        entropy = self.start.new_zeros(())
        for e in range(self.num_edges):
            out, state = self.lstm(inputs, state)
            logp = torch.log_softmax(self.step_logits(out).view(-1), dim=-1)
            if forced is None:
                op = int(torch.multinomial(logp.detach().exp(), 1, generator=generator).item())
            else:
                op = forced[e]
            ops.append(op)
            log_prob = log_prob + logp[op]
            entropy = entropy - (logp.exp() * logp).sum()
            inputs = self.embed(logp.new_tensor([[op]], dtype=torch.long))
        return ControllerSample(tuple(ops), log_prob, entropy)

    @torch.no_grad()
    def sample_archs(self, n: int, generator: torch.Generator | None = None) -> list[Arch]:
        """``n`` independent draws, without building graphs (candidate selection)."""
        return [self(generator).arch for _ in range(n)]

    def extra_repr(self) -> str:
        return f"tanh_constant={self.tanh_constant}, temperature={self.temperature}"


__all__ = ["Controller", "ControllerSample"]
