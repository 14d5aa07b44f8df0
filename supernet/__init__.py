"""Weight-sharing supernet of NAS-Bench-201: operations, the search cell and its forward modes, networks, counts.

For searcher authors::

    from supernet import Supernet, SupernetConfig
    cfg = SupernetConfig(num_classes=10)     # the nb201 supernet with BN=1; a search builds its own from its
                                             #   Config (algos.oneshot.supernet_config)
    net = Supernet(cfg)                      # alpha: nn.Parameter (6, 5), init 1e-3 * randn (global torch RNG)
    w_opt = SGD(net.weights(), ...)          # every weight except alpha
    a_opt = Adam(net.arch_parameters(), ...) # [alpha]

    net.set_mode("mixture")                  # DARTS: softmax(alpha)-weighted sum of all ops ("joint": SETN alpha step)
    net.set_mode("gdas"); net.set_tau(tau)   # GDAS: one hard Gumbel draw per forward (net.last_sample keeps it);
                                             #   "gdas_v1": NATS' variant (only the chosen op, times its weight)
    net.set_mode("path", arch)               # one sampled Arch for all cells, or a sequence of 3N Archs (NATS "urs")
    net.set_arch(other_arch)                 #   change it for the next step without leaving the mode
    net.set_mode("fixed", arch)              # evaluate one Arch (SETN / RANDOM / ENAS candidate scoring);
                                             #   computes exactly what "path" does, the name says the intent
    logits = net(images)                     # (batch, num_classes); the mode stays until set_mode again

    net.genotype()                           # Arch: argmax of alpha per edge, none included
    net.extract(arch)                        # stand-alone Network with copies of the supernet's weights of arch

Samples: `search_space.Arch.sample(rng)` (uniform, NB201), `urs_arch(rng)` (NATS urs, one per cell),
`gumbel_hard(alpha, tau, generator)` (what 'gdas' draws). Set ``net.generator`` to a torch.Generator on alpha's
device to draw the Gumbel noise from it instead of the global RNG (its state is not in ``state_dict``: checkpoint
it yourself). GDAS' temperature schedule is the searcher's: call ``net.set_tau`` each epoch.
``net.state_dict()`` holds alpha with the weights; ``copy.deepcopy(net)`` works in every mode (DARTS-V2).

Execution: inputs are run channels-last (``net.channels_last = True``, measured ~1.5-3x faster on CPU than the
contiguous layout; set False to switch off). ``none`` is never executed in 'mixture'/'path' (zero output, zero
gradient), which changes no value. torch.compile is not used: compiling the mixture supernet did not finish in
8 minutes on the 2-core CPU, and 'path' would recompile per architecture.

BN flags and conv bias: the defaults are the NB201 per-algorithm supernets (cell ops affine=False, tracking = the
"BN" argument; stem, stage blocks and head BN at PyTorch defaults; cell convs without bias, as the ICLR-era code);
NATS' generic supernet is ``track_running_stats=False, head_bn_follows_flags=True, conv_bias='if-not-affine'`` (the
head BN follows the flags, the cell convs carry a bias when their BN is not affine). The config is a frozen
dataclass: print it, or `.replace(C=8, N=1)` for toy sizes.

Stand-alone networks (the benchmark's ``infer.tiny``): `build_network(arch, num_classes, C=16, N=5)`,
`network_from_config({'name': 'infer.tiny', 'C': 16, 'N': 5, 'arch_str': ..., 'num_classes': 10})`.
Counts: `count_parameters(module)`, `param_count(arch, num_classes)` / `param_counts(num_classes)` (closed form,
equal to the benchmark's params_M x 1e6), `count_flops(module, input_size)` / `flops(arch, num_classes,
input_size)` (MFLOPs per image; see `supernet.flops` for what is counted).
"""

from supernet.cell import INCOMING, Cell
from supernet.flops import count_flops, count_parameters, flops, flops_counts, param_count, param_counts
from supernet.network import (
    MODES,
    Network,
    Supernet,
    SupernetConfig,
    build_network,
    network_from_config,
)
from supernet.ops import Identity, Pooling, ReLUConvBN, ResNetBasicBlock, Zero, make_op
from supernet.sampling import GumbelSample, gumbel_hard, urs_arch

__all__ = [
    "INCOMING", "MODES", "Cell", "GumbelSample", "Identity", "Network", "Pooling",
    "ReLUConvBN", "ResNetBasicBlock", "Supernet", "SupernetConfig", "Zero", "build_network", "count_flops",
    "count_parameters", "flops", "flops_counts", "gumbel_hard", "make_op", "network_from_config",
    "param_count", "param_counts", "urs_arch",
]
