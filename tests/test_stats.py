"""The statistics behind the significance marks and the anytime figures, against hand-computed small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runners import stats
from runners.anytime import run_anytime


# --- rank test and effect size ---------------------------------------------------------------------------------
def test_mann_whitney_u_and_exact_p_by_hand() -> None:
    # a = 1, 2, 3 below every b: U_a = 0; exact two-sided p = 2 / C(6, 3) = 0.1, the smallest 3 vs 3 can give
    u, p = stats.mann_whitney(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    assert u == 0 and p == pytest.approx(0.1)
    assert stats.min_p_value(3, 3) == pytest.approx(0.1) and stats.min_p_value(3, 500) < 1e-6
    # a = 1, 3, 5 against b = 2, 4: a beats b in (3, 2), (5, 2), (5, 4): U_a = 3 of 6 pairs
    u, p = stats.mann_whitney(np.array([1.0, 3.0, 5.0]), np.array([2.0, 4.0]))
    assert u == 3 and p == pytest.approx(1.0)


def test_a12_counts_wins_and_half_ties() -> None:
    assert stats.a12(np.array([4.0, 5.0, 6.0]), np.array([1.0, 2.0, 3.0])) == 1.0
    assert stats.a12(np.array([1.0, 3.0, 5.0]), np.array([2.0, 4.0])) == pytest.approx(3 / 6)
    # a = 1, 2, 2 against b = 2, 3: no win, two ties (2 = 2 twice): (0 + 0.5 * 2) / 6
    assert stats.a12(np.array([1.0, 2.0, 2.0]), np.array([2.0, 3.0])) == pytest.approx(1 / 6)
    # A12 is U_a / (n_a n_b), ties included
    u, _ = stats.mann_whitney(np.array([1.0, 2.0, 2.0]), np.array([2.0, 3.0]))
    assert u / 6 == pytest.approx(1 / 6)
    assert [stats.magnitude(x) for x in (0.5, 0.45, 0.65, 0.72, 0.0)] == ["negligible", "negligible", "medium",
                                                                            "large", "large"]


def test_holm_step_down_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04; made monotone: 0.03, 0.06, 0.06
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5]) == [0.5] and stats.holm([]) == []


# --- bootstrap -----------------------------------------------------------------------------------------------
def test_bootstrap_ci_is_fixed_by_its_seed_and_brackets_the_mean() -> None:
    x = np.random.default_rng(0).normal(93.0, 0.5, 400)
    ci = stats.bootstrap_ci(x)
    assert ci == stats.bootstrap_ci(x)  # the recorded seed fixes it
    assert ci != stats.bootstrap_ci(x, seed=1)
    # for a large symmetric sample the interval is the textbook mean +- 1.96 s / sqrt(n)
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    assert ci[0] == pytest.approx(x.mean() - half, abs=0.1 * half)
    assert ci[1] == pytest.approx(x.mean() + half, abs=0.1 * half)
    assert stats.bootstrap_ci(np.array([91.2])) is None  # one run: no interval
    assert stats.bootstrap_ci(np.array([91.2, 91.2, 91.2])) == (91.2, 91.2)  # every run on the same cell


# --- marks -----------------------------------------------------------------------------------------------------
def test_not_significantly_worse_marks_follow_the_corrected_p_values() -> None:
    rng = np.random.default_rng(3)
    samples = {"best": rng.normal(94.0, 0.4, 60), "close": rng.normal(93.9, 0.4, 60),
               "worse": rng.normal(93.0, 0.4, 60), "three": np.array([94.1, 93.9, 94.0])}
    cmp = stats.compare(samples)
    assert cmp.best == max(samples, key=lambda k: samples[k].mean())
    assert len(cmp.pairs) == 6  # every pair of four rows, Holm over all six
    assert [p.p_holm for p in cmp.pairs] == pytest.approx(stats.holm([p.p for p in cmp.pairs]))
    for row in samples:
        if row == cmp.best:
            assert row in cmp.top
            continue
        pair = cmp.pair(cmp.best, row)
        worse = pair.p_holm < stats.ALPHA and cmp.means[row] < cmp.means[cmp.best]
        assert (row not in cmp.top) == worse
    assert "worse" not in cmp.top and "close" in cmp.top
    # the outcome itself: the three-run row has the highest mean (94.0), and only "worse" is significantly below it
    assert cmp.best == "three" and sorted(cmp.top) == ["best", "close", "three"]
    # Holm by hand: the six raw p-values ranked, the k-th smallest times 6 - k + 1 (capped at 1, kept monotone)
    ranked = sorted(cmp.pairs, key=lambda p: p.p)
    assert [(p.a, p.b) for p in ranked] == [("best", "worse"), ("close", "worse"), ("worse", "three"),
                                             ("best", "close"), ("close", "three"), ("best", "three")]
    assert [p.p_holm for p in ranked[:4]] == pytest.approx([6 * ranked[0].p, 5 * ranked[1].p, 4 * ranked[2].p,
                                                            3 * ranked[3].p])
    assert ranked[4].p_holm == ranked[5].p_holm == 1.0  # 2 x 0.68 and 1 x 1.0, capped
    lone = stats.compare({"only": samples["best"]})
    assert lone.best == "only" and lone.top == set()  # nothing to be better than: not marked


def test_the_correction_can_keep_a_row_that_the_raw_test_would_drop() -> None:
    """Raw p < 0.05 but Holm's p >= 0.05: the row stays marked (marks use corrected p-values)."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        samples = {k: rng.normal(0.0, 1.0, 25) for k in "abcde"}
        cmp = stats.compare(samples)
        edge = [p for p in cmp.pairs if cmp.best in (p.a, p.b) and p.p < stats.ALPHA <= p.p_holm]
        if edge:
            other = edge[0].b if edge[0].a == cmp.best else edge[0].a
            assert other in cmp.top
            return
    pytest.fail("no sample had a pair significant before correction only")


# --- anytime -----------------------------------------------------------------------------------------------------
def test_anytime_figures_of_one_run_by_hand() -> None:
    # optimum 94; queries end at 100 s (incumbent 92), 300 s (93.6), 700 s (93.6), 900 s (94.0); budget 1000 s
    t = np.array([100.0, 300.0, 700.0, 900.0])
    v = np.array([92.0, 93.6, 93.6, 94.0])
    r = run_anytime(t, v, optimum=94.0, budget=1000.0, final_value=94.0)
    # regret 2 over [0, 300) (the first incumbent's before the first query), 0.4 over [300, 900), 0 to 1000
    assert r.area == pytest.approx((2 * 300 + 0.4 * 600 + 0 * 100) / 1000)
    assert r.time_to == (300.0, 300.0) and r.final == 0.0
    # never within 0.5: +inf; a query past the budget (NATS-Bench keeps the crossing query) does not count
    r = run_anytime(np.array([100.0, 1200.0]), np.array([92.0, 94.0]), 94.0, 1000.0, 92.0)
    assert r.time_to == (math.inf, math.inf) and r.area == pytest.approx(2.0) and r.final == 2.0
