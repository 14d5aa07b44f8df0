"""R-EA: regularized (ageing) evolution, Real et al. AAAI 2019, as run by NAS-Bench-201 and NATS-Bench.

    population <- P random cells, each trained (not checked against the budget)
    while time used < budget:
        sample S members of the population uniformly, with replacement
        parent <- the best of them (proxy valid accuracy)
        child  <- parent with one edge switched to a different op
        train child                 # nb201: a child that would overflow the budget ends the run, uncharged
        push child; drop the oldest member
    return the best cell of the whole history

The ``cycles`` setting is parsed by the original scripts but unused: the time budget stops the loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from algos.base import SearchContext, Searcher, SearchResult, is_int, require
from algos.query import PLACE, Draws, QueryProtocol, QueryRun, cell_code, cell_index, presets, random_cell
from search_space import EDGES, NUM_EDGES, NUM_OPS

#: First edge (string order) of each node's incoming edges: node 1 has 1 edge, node 2 has 2, node 3 has 3.
_NODE_FIRST_EDGE = tuple(min(e for e, (target, _) in enumerate(EDGES) if target == node) for node in (1, 2, 3))


@dataclass(frozen=True)
class Config(QueryProtocol):
    #: Individuals kept alive (P).
    population_size: int = 10
    #: Tournament size (S); the NB201 paper's ablation compares 3, 5 and 10.
    sample_size: int = 3
    #: ``--ea_cycles``: parsed by the original scripts and unused (the time budget ends the loop); recorded only.
    cycles: int = 200
    #: How the edge to mutate is picked. ``node-then-edge`` is the original code (a uniform node, then a uniform
    #: incoming edge of it: node 1's single edge is picked 1/3 of the time); ``uniform-edge`` picks one of the six
    #: edges uniformly (`Arch.mutate`). Either way the new op is uniform among the four others.
    mutation: Literal["node-then-edge", "uniform-edge"] = "node-then-edge"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("population_size", "sample_size"):
            require(name, getattr(self, name), "an integer >= 1", lambda v: is_int(v) and v >= 1)
        require("cycles", self.cycles, "an integer >= 0", lambda v: is_int(v) and v >= 0)
        require("mutation", self.mutation, "node-then-edge, uniform-edge",
                lambda v: v in ("node-then-edge", "uniform-edge"))


def mutate(index: int, draws: Draws, mode: str = "node-then-edge") -> int:
    """A child of cell ``index`` that differs on exactly one edge (R-EA's mutation)."""
    if mode == "node-then-edge":
        node = draws.below(3)
        edge = _NODE_FIRST_EDGE[node] + draws.below(node + 1)
    else:
        edge = draws.below(NUM_EDGES)
    code = cell_code(index)
    old = (code // PLACE[edge]) % NUM_OPS
    new = draws.below(NUM_OPS - 1)
    if new >= old:  # uniform among the other four ops
        new += 1
    return cell_index(code + (new - old) * PLACE[edge])


def tournament(population: deque[tuple[float, int]], size: int, draws: Draws) -> tuple[float, int]:
    """The best of ``size`` members drawn uniformly with replacement; the first drawn wins ties."""
    n = len(population)
    best = population[draws.below(n)]
    for _ in range(size - 1):
        member = population[draws.below(n)]
        if member[0] > best[0]:
            best = member
    return best


class REA(Searcher):
    """Regularized evolution over the benchmark's proxy queries."""

    name = "rea"
    kind = "query"
    Config = Config
    PRESETS = presets(Config)

    def search(self, ctx: SearchContext) -> SearchResult:
        cfg: Config = self.config
        run = QueryRun(ctx, cfg)
        draws = Draws(ctx.rng)
        query = run.clock.query
        nb201 = cfg.budget_rule == "nb201"

        # The initial population is trained whatever the budget.
        population: deque[tuple[float, int]] = deque()  # (proxy accuracy, cell), oldest first
        while len(population) < cfg.population_size:
            cell = random_cell(draws)
            acc, cost = query(cell)
            run.record(cell, acc, cost)
            population.append((acc, cell))

        stopped_by = "budget spent"
        while not run.spent():
            run.start_overhead()
            parent = tournament(population, cfg.sample_size, draws)
            child = mutate(parent[1], draws, cfg.mutation)
            run.charge_overhead()
            acc, cost = query(child)
            if nb201 and run.would_exceed(cost):
                stopped_by = "the next child would exceed the budget (not charged, not kept)"
                break
            run.record(child, acc, cost)
            population.append((acc, child))
            population.popleft()  # ageing: the oldest dies, not the worst

        return run.result(self.name, stopped_by=stopped_by, final_population=[cell for _, cell in population])


SEARCHER = REA
