"""``get_cell_based_tiny_net(config)``: the stand-alone network of a config from ``api.get_net_config``.

The official function lives in AutoDL-Projects (``models``, or ``xautodl.models``) and builds its ``TinyNetwork``;
this one builds ours, `supernet.network.Network` (the same skeleton: stem, three stages of N cells with C, 2C, 4C
channels, ResNet reduction blocks, head), so weights a benchmark build kept load into it with
``network.load_state_dict``. It takes the config as a dict or as an object with attributes (``dict2config``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get_cell_based_tiny_net(config: Mapping[str, Any] | Any) -> Any:
    """Our `supernet.network.Network` for an ``infer.tiny`` config (``arch_str`` or ``genotype``, ``C``, ``N``,
    ``num_classes``); a genotype object is read through its ``tostr()``."""
    from supernet.network import network_from_config  # torch: only when a network is built

    cfg = dict(config) if isinstance(config, Mapping) else dict(vars(config))
    genotype = cfg.get("genotype")
    if genotype is not None and not isinstance(genotype, str) and hasattr(genotype, "tostr"):
        cfg["genotype"] = genotype.tostr()
    return network_from_config(cfg)


__all__ = ["get_cell_based_tiny_net"]
