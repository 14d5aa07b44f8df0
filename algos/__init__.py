"""The ten searchers, one module each; `get_searcher` finds one by its command-line name.

Each module defines its `Searcher` subclass and exposes it as the module attribute ``SEARCHER``.
"""

from __future__ import annotations

import importlib

from algos.base import PROTOCOLS, SearchContext, Searcher, SearchResult, Trace

QUERY_SEARCHERS = {"rea": "algos.rea", "random": "algos.random_search", "reinforce": "algos.reinforce",
                   "bohb": "algos.bohb"}
WEIGHT_SHARING_SEARCHERS = {"darts-v1": "algos.darts_v1", "darts-v2": "algos.darts_v2", "gdas": "algos.gdas",
                            "setn": "algos.setn", "enas": "algos.enas", "random-nas": "algos.random_nas"}
SEARCHERS = {**QUERY_SEARCHERS, **WEIGHT_SHARING_SEARCHERS}


def get_searcher(name: str) -> type[Searcher]:
    """The searcher class registered as ``name``; an unknown name lists the valid ones."""
    if name not in SEARCHERS:
        raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(SEARCHERS)}")
    return importlib.import_module(SEARCHERS[name]).SEARCHER


__all__ = ["PROTOCOLS", "QUERY_SEARCHERS", "SEARCHERS", "WEIGHT_SHARING_SEARCHERS", "SearchContext", "SearchResult",
           "Searcher", "Trace", "get_searcher"]
