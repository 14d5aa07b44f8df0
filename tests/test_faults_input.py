"""Bad input ends in one line and exit status 2, before any work (issue 14): cell indices in every oracle call, a bad
or unreachable scheduler, an unloadable benchmark anywhere, settings outside their domain, unknown runner options,
every cell of a CSV, and ``--bench ''`` meaning the embedded default everywhere.

Commands run as a user runs them, in their own process; corrupt files are real files.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_runner import PY, ROOT

from bench import Benchmark, TableError
from bench.api import API
from bench.clock import SimulatedClock
from bench.importers.csv import read_csv
from search_space import NUM_ARCHS

METRIC = "cifar10-valid/x-valid@200"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    """The command ended in exactly one line on stderr (after any NOTE a plan prints), with no traceback."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("error:") or "error:" in line[:40]]
    assert len(lines) == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1] == lines[0]
    return lines[0]


# --- 4. cell indices in every oracle call ----------------------------------------------------------------------
BAD_CELLS = [-1, NUM_ARCHS, 20000, 1.5, 3.0, np.float64(7.0), True, None]
BAD_ARRAYS = [np.array([-1]), np.array([0, NUM_ARCHS]), np.array([20000]), np.array([1.0, 2.0]), np.array([True]),
              [3, -2]]


@pytest.mark.parametrize("cell", BAD_CELLS, ids=repr)
def test_every_scalar_query_refuses_a_bad_cell(default_bench: Benchmark, cell: object) -> None:
    clock = SimulatedClock(default_bench, "cifar10", 1e9, epochs=200, substitutes=["train200-scaled", "no-eval-time"])
    api = API(default_bench)
    calls = [lambda: default_bench.value(cell, METRIC), lambda: default_bench.rank(cell, METRIC),
             lambda: default_bench.percentile(cell, METRIC), lambda: default_bench.reported(cell, "cifar10"),
             lambda: default_bench.accuracy(cell, "cifar10-valid", "x-valid"), lambda: clock.query(cell),
             lambda: clock.train_and_eval(cell), lambda: clock.cost(cell),
             lambda: api.get_more_info(cell, "cifar10-valid", hp="200", is_random=False)]
    for call in calls:
        with pytest.raises(ValueError, match=r"out of range 0\.\.15624|is not an architecture|not in the NAS-Bench"):
            call()


@pytest.mark.parametrize("cells", BAD_ARRAYS, ids=repr)
def test_every_vectorised_query_refuses_a_bad_cell(default_bench: Benchmark, cells: object) -> None:
    rng = np.random.default_rng(0)
    for call in (lambda: default_bench.values(cells, METRIC),
                 lambda: default_bench.values(cells, METRIC, trials=np.zeros(np.shape(cells), dtype=int)),
                 lambda: default_bench.random_trials(cells, METRIC, rng)):
        with pytest.raises(ValueError, match=r"out of range 0\.\.15624|must be integers 0\.\.15624"):
            call()


def test_vectorised_queries_still_answer_good_cells_and_refuse_bad_trials(default_bench: Benchmark) -> None:
    idx = np.array([0, 11472, NUM_ARCHS - 1])
    expected = [default_bench.value(int(i), METRIC) for i in idx]
    np.testing.assert_array_equal(default_bench.values(idx, METRIC), expected)
    np.testing.assert_array_equal(default_bench.values(list(idx), METRIC), expected)
    np.testing.assert_array_equal(default_bench.values(idx.astype(np.uint16), METRIC), expected)
    assert default_bench.values(np.array([], dtype=np.int64), METRIC).shape == (0,)
    for trials in (np.array([-1, 0, 0]), np.array([0, 0, 99]), np.array([0.0, 0.0, 0.0])):
        with pytest.raises(ValueError, match="trial .* is out of range"):
            default_bench.values(idx, METRIC, trials=trials)
    with pytest.raises(ValueError, match="trial 1.0 is out of range"):
        default_bench.value(0, METRIC, trial=1.0)


# --- 5. a bad scheduler ------------------------------------------------------------------------------------------
BATCH = ["-m", "runners", "batch", "--algos", "rea", "--datasets", "cifar10", "--runs", "2", "--no-progress",
         "--no-report"]


@pytest.mark.parametrize(("how", "address", "words"), [
    ("flag", "garbage", "invalid dask scheduler address 'garbage'; valid: [SCHEME://]HOST:PORT"),
    ("env", "tcp://nowhere", "invalid dask scheduler address 'tcp://nowhere'"),
    ("flag", "tcp://127.0.0.1:1", "cannot reach the dask scheduler 'tcp://127.0.0.1:1' within 5 s"),
])
def test_a_bad_or_unreachable_scheduler_is_one_line_within_seconds(tmp_path: Path, how: str, address: str,
                                                                   words: str) -> None:
    results = tmp_path / "R"
    args = [*BATCH, "--results", str(results)] + (["--scheduler", address] if how == "flag" else [])
    t0 = time.monotonic()
    r = run(*args, env={"SCHEDULER": address} if how == "env" else None)
    assert r.returncode == 2 and words in _one_line(r)
    assert time.monotonic() - t0 < 25  # a bounded connect timeout (dask's own is 30 s, then a traceback)
    assert not list(results.glob("nb201/*/*/seed-*/result.json"))


# --- 6. an unloadable --bench anywhere ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("one") / "R"
    r = run("-m", "runners", "run", "rea", "--seed", "1", "--results", str(results), "--no-progress")
    assert r.returncode == 0, r.stderr
    return results


@pytest.mark.parametrize("bad", ["missing", "random-bytes", "not-a-zip"])
@pytest.mark.parametrize("command", ["table", "plot", "run"])
def test_an_unloadable_benchmark_is_refused_by_every_command(one_run: Path, tmp_path: Path, command: str,
                                                            bad: str) -> None:
    path = tmp_path / "nb201.pth"
    if bad == "random-bytes":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    elif bad == "not-a-zip":
        path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    reports = {p: p.read_bytes() for p in (one_run / "nb201").glob("table.*")}
    args = ["run", "rea", "--seed", "2", "--no-progress"] if command == "run" else [command]
    r = run("-m", "runners", *args, "--results", str(one_run), "--bench", str(path))
    assert r.returncode == 2
    line = _one_line(r)
    assert str(path) in line and ("does not exist" in line or "cannot read" in line)
    assert {p: p.read_bytes() for p in (one_run / "nb201").glob("table.*")} == reports  # nothing rewritten
    assert not (one_run / "nb201" / "cifar10" / "rea" / "seed-2").exists()


# --- 11. settings outside their domain and unknown options, refused when planned ----------------------------------
@pytest.mark.parametrize(("args", "words"), [
    (["rea", "--set", "time_budget=-5"], "setting time_budget=-5.0 is invalid; valid: None or a number > 0"),
    (["rea", "--set", "time_budget=0"], "setting time_budget=0.0 is invalid"),
    (["rea", "--set", "budgets=-1,-1,-1"], "setting budgets=(-1.0, -1.0, -1.0) is invalid; valid: 3 numbers > 0"),
    (["rea", "--set", "population_size=0"], "setting population_size=0 is invalid; valid: an integer >= 1"),
    (["rea", "--set", "sample_size=-1"], "setting sample_size=-1 is invalid"),
    (["reinforce", "--set", "learning_rate=0"], "setting learning_rate=0.0 is invalid; valid: a number > 0"),
    (["bohb", "--set", "min_budget=300"], "the budgets of the rungs increase from min_budget to max_budget"),
    (["bohb", "--set", "eta=1"], "setting eta=1.0 is invalid; valid: a number > 1"),
    (["bohb", "--protocol", "nats", "--set", "max_budget=50"], "1 <= min_budget <= max_budget <= 12"),
    (["darts-v1", "--set", "epochs=0"], "setting epochs=0 is invalid; valid: a positive integer"),
    (["rea", "--option", "foo=bar"], "unknown runner option 'foo'; valid: device, data, data_dir, splits_dir, subset"),
    (["rea", "--option", "subset=0"], "invalid runner option subset 0; valid: an integer >= 1"),
    (["rea", "--option", "workers=many"], "invalid runner option workers 'many'; valid: an integer >= 0"),
    (["darts-v1", "--smoke", "--option", "data=mnist"], "invalid runner option data='mnist': unknown dataset 'mnist'; valid: cifar10"),
])
def test_settings_and_options_are_checked_when_the_run_is_planned(tmp_path: Path, args: list[str],
                                                                   words: str) -> None:
    results = tmp_path / "R"
    r = run("-m", "runners", "run", *args, "--seed", "1", "--results", str(results), "--no-progress")
    assert r.returncode == 2 and words in _one_line(r)
    assert not results.exists()  # refused before any folder


def test_make_refuses_a_zero_budget_before_any_run() -> None:
    r = subprocess.run(["make", "-s", "-o", ".venv/.installed", "rea", "SET=time_budget=0",
                        "RESULTS=/nonexistent-results"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "setting time_budget=0.0 is invalid" in r.stderr and "Traceback" not in r.stderr


# --- 12. every cell of a CSV; --bench '' ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def csv_text(csv_path: Path) -> pd.DataFrame:
    return pd.read_csv(csv_path, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("column", "row", "value", "words"), [
    ("arch", 5000, "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|conv_9x9~2|",
     "line 5002 (index {index}) has arch"),
    ("arch", 9000, None, "line 9002 (index {index}) has arch"),  # a real cell, under the wrong index
    ("cifar100/x-test@200", 777, "1e9", "column 'cifar100/x-test@200', line 779: 1000000000.0 is out of range; "
                                        "valid: an accuracy in percent, 0..100"),
    ("cifar10-valid/x-valid@12", 12, "-3", "line 14: -3.0 is out of range"),
    ("cifar100/x-test@200/seeds", 3, "70.1;170.2", "column 'cifar100/x-test@200/seeds', line 5: 170.2"),
    ("cifar10-valid/train_seconds@200", 40, "-1", "line 42: -1.0 is out of range; valid: a train_seconds figure"),
])
def test_every_cell_of_a_csv_is_checked(csv_text: pd.DataFrame, tmp_path: Path, column: str, row: int,
                                        value: str | None, words: str) -> None:
    frame = csv_text.copy()
    if column not in frame:
        pytest.skip(f"the published CSV has no {column!r} column")
    frame.loc[row, column] = value if value is not None else frame.loc[row + 1, column]
    path = _write(frame, tmp_path / "bad.csv")
    with pytest.raises(TableError) as info:
        read_csv(path)
    assert words.format(index=frame.loc[row, "index"]) in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_a_bad_csv_is_one_line_for_the_runner_too(csv_text: pd.DataFrame, tmp_path: Path) -> None:
    frame = csv_text.copy()
    frame.loc[100, "cifar10/ori-test@200"] = "101"
    path = _write(frame, tmp_path / "bad.csv")
    r = run("-m", "runners", "run", "rea", "--seed", "1", "--bench", str(path), "--results", str(tmp_path / "R"))
    assert r.returncode == 2 and "line 102: 101.0 is out of range" in _one_line(r)


def test_an_empty_bench_means_the_embedded_default_everywhere(tmp_path: Path) -> None:
    info = run("-m", "bench", "--bench", "", "info")
    assert info.returncode == 0 and "source:         the embedded default" in info.stdout, info.stderr
    assert run("-m", "bench", "info").stdout == info.stdout
    r = run("-m", "runners", "run", "rea", "--seed", "1", "--bench", "", "--results", str(tmp_path), "--no-progress",
            "--no-report")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "nb201" / "cifar10" / "rea" / "seed-1" / "config.json").read_text())
    assert cfg["bench"]["requested"] == "default" and cfg["bench"]["source"].startswith("the embedded default")
    assert Benchmark.load("").checksum == Benchmark.load().checksum


