"""Which differences between searchers are real: rank tests, effect sizes and bootstrap intervals of final accuracy.

Final accuracies of NAS runs are skewed and full of ties (many runs end on the same few cells), so nothing here
assumes normality: a two-sided Mann-Whitney U test per pair of rows (`scipy.stats.mannwhitneyu`), Holm's
step-down correction over all pairs of a column (`statsmodels.stats.multitest.multipletests`), the Vargha-Delaney
A12 effect size, and a bootstrap confidence interval of each mean (`scipy.stats.bootstrap`, BCa, fixed seed).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

#: Family-wise error rate of the "not significantly worse than the best" marks.
ALPHA = 0.05
#: Confidence level of the bootstrap intervals of the means.
CONFIDENCE = 0.95
#: Bootstrap resamples and the seed of their generator (recorded in every report, so intervals reproduce).
RESAMPLES = 9999
BOOTSTRAP_SEED = 20200216


def mann_whitney(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(U of ``a``, two-sided p-value); scipy picks the exact test for small samples without ties, else the
    normal approximation with tie correction."""
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(np.asarray(a, float), np.asarray(b, float), alternative="two-sided", method="auto")
    return float(res.statistic), float(res.pvalue)


def a12(a: np.ndarray, b: np.ndarray) -> float:
    """Vargha-Delaney A12: the probability that a run of ``a`` beats a run of ``b``, ties counting half.

    0.5 is no effect; Vargha and Delaney (2000) call |A12 - 0.5| >= 0.06 small, >= 0.14 medium, >= 0.21 large."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    greater = (a[:, None] > b[None, :]).sum()
    equal = (a[:, None] == b[None, :]).sum()
    return float((greater + 0.5 * equal) / (len(a) * len(b)))


def magnitude(effect: float) -> str:
    """Vargha and Delaney's words for an A12."""
    d = abs(effect - 0.5)
    return "large" if d >= 0.21 else "medium" if d >= 0.14 else "small" if d >= 0.06 else "negligible"


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (reject where adjusted < alpha controls the family-wise error rate)."""
    if not pvalues:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(pvalues, method="holm")[1]]


def min_p_value(n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value an exact rank test can give two samples of these sizes: 2 / C(n_a+n_b, n_a)
    (3 runs against 3 can never reach 0.05)."""
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def bootstrap_ci(values: np.ndarray, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """BCa bootstrap interval of the mean; None for a single run (no interval exists). Runs that all ended on
    the same figure have the degenerate interval [v, v]."""
    x = np.asarray(values, float)
    if len(x) < 2:
        return None
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    from scipy.stats import bootstrap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # BCa's jackknife on heavily tied samples
        res = bootstrap((x,), np.mean, n_resamples=resamples, confidence_level=confidence, method="BCa",
                        rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    if not (np.isfinite(lo) and np.isfinite(hi)):  # BCa undefined (e.g. all but one run tied): percentile
        res = bootstrap((x,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
                        rng=np.random.default_rng(seed))
        lo, hi = res.confidence_interval
    return float(lo), float(hi)


@dataclass(frozen=True)
class Pair:
    """One pairwise comparison within a column."""

    a: str
    b: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    u: float
    p: float
    p_holm: float
    a12: float

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


@dataclass
class Comparison:
    """Every row of one table column compared with every other."""

    means: dict[str, float]
    sizes: dict[str, int]
    cis: dict[str, tuple[float, float] | None]
    pairs: list[Pair] = field(default_factory=list)
    #: The row with the highest mean (None if no row has a figure).
    best: str | None = None
    #: Rows not significantly worse than the best (Holm-corrected p >= ALPHA against it), the best included; empty
    #: when there is one row (a lone row is not marked best: there is nothing it was compared with).
    top: set[str] = field(default_factory=set)

    def pair(self, a: str, b: str) -> Pair | None:
        return next((p for p in self.pairs if {p.a, p.b} == {a, b}), None)


def compare(samples: Mapping[str, np.ndarray]) -> Comparison:
    """Compare the rows of one column: each row's mean and bootstrap CI, every pair's U test (Holm over all pairs
    of the column) and A12, and the rows not significantly worse than the best."""
    rows = {k: np.asarray(v, float)[~np.isnan(np.asarray(v, float))] for k, v in samples.items()}
    rows = {k: v for k, v in rows.items() if len(v)}
    cmp = Comparison({k: float(v.mean()) for k, v in rows.items()}, {k: len(v) for k, v in rows.items()},
                     {k: bootstrap_ci(v) for k, v in rows.items()})
    raw = []
    for a, b in itertools.combinations(rows, 2):
        u, p = mann_whitney(rows[a], rows[b])
        raw.append((a, b, u, p))
    adjusted = holm([p for *_, p in raw])
    cmp.pairs = [Pair(a, b, len(rows[a]), len(rows[b]), cmp.means[a], cmp.means[b], u, p, q, a12(rows[a], rows[b]))
                 for (a, b, u, p), q in zip(raw, adjusted, strict=True)]
    if rows:
        cmp.best = max(cmp.means, key=lambda k: cmp.means[k])
    if len(rows) > 1:
        cmp.top = {k for k in rows if k == cmp.best or not _worse(cmp, k)}
    return cmp


def _worse(cmp: Comparison, row: str) -> bool:
    """Significantly worse than the best: the corrected test rejects and the row's mean is lower."""
    pair = cmp.pair(cmp.best, row)
    return pair is not None and pair.significant and cmp.means[row] < cmp.means[cmp.best]
