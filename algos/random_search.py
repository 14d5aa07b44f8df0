"""Random search (Bergstra & Bengio, JMLR 2012) over the benchmark's proxy queries, as NAS-Bench-201 ran it.

    while time used < budget:
        cell <- a uniformly random cell; train it
        nb201: if it would overflow the budget, stop (not charged)
    return the cell with the best proxy valid accuracy
"""

from __future__ import annotations

from dataclasses import dataclass

from algos.base import SearchContext, Searcher, SearchResult
from algos.query import Draws, QueryProtocol, QueryRun, presets, random_cell


@dataclass(frozen=True)
class Config(QueryProtocol):
    """Random search has no settings of its own: only the protocol's clock."""


class RandomSearch(Searcher):
    """Uniform sampling until the budget is spent."""

    name = "random"
    kind = "query"
    Config = Config
    PRESETS = presets(Config)

    def search(self, ctx: SearchContext) -> SearchResult:
        cfg: Config = self.config
        run = QueryRun(ctx, cfg)
        draws = Draws(ctx.rng)
        query = run.clock.query
        nb201 = cfg.budget_rule == "nb201"
        stopped_by = "budget spent"
        while not run.spent():
            cell = random_cell(draws)
            acc, cost = query(cell)
            if nb201 and run.would_exceed(cost):
                stopped_by = "the next cell would exceed the budget (not charged, not kept)"
                break
            run.record(cell, acc, cost)
        return run.result(self.name, stopped_by=stopped_by)


SEARCHER = RandomSearch
