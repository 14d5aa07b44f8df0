"""The fast reader of the official ``.pth`` files (bench.importers.stream_pickle) against Python's C unpickler.

Every file is read both ways: the fast reader must build what the C unpickler builds (its per-epoch records as
`Record` s holding the same floats bit for bit), give up to the C unpickler on what it does not read, refuse every
class outside the official format by name without running anything, and the importer must make the same table
from either.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from official import NB201_NAME

from bench.importers import nb201, safe_pickle, stream_pickle
from bench.importers.safe_pickle import C_READER, FAST_READER, read_plain
from bench.importers.stream_pickle import Record


def materialize(obj: Any) -> Any:
    """``obj`` with every `Record` turned into the dict the C unpickler builds (to compare the two readers)."""
    memo: dict[int, Any] = {}

    def walk(x: Any) -> Any:
        if id(x) in memo:
            return memo[id(x)]
        if isinstance(x, Record):
            out: Any = dict(zip(x.keys_, x.values_.tolist(), strict=True))
        elif type(x) is dict or type(x) is collections.OrderedDict:
            out = type(x)()
            memo[id(x)] = out
            for k, v in x.items():
                out[walk(k)] = walk(v)
            return out
        elif type(x) is list:
            out = []
            memo[id(x)] = out
            out.extend(walk(v) for v in x)
            return out
        elif type(x) is tuple:
            out = tuple(walk(v) for v in x)
        else:
            return x
        memo[id(x)] = out
        return out

    return walk(obj)


def _same(a, b, path: str = "$") -> None:
    """Deep equality with floats compared bit for bit (sign of zero and NaN included) and dict key order."""
    assert isinstance(a, dict) == isinstance(b, dict) and (isinstance(a, dict) or type(a) is type(b)), path
    if isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)), path
    else:
        assert a == b, path


def _save(data, path: Path) -> Path:
    import torch

    torch.save(data, path, _use_new_zipfile_serialization=False)  # the 2020 files' layout
    return path


QUIRKS = 9


def _quirky_trials(data: dict, quirk: int):
    """(file index, trial state) of the quirky fixture's trials that carry ``quirk``, in its order."""
    n = 0
    for file_index, hp in data["arch2infos"].items():
        for arch in hp.values():
            for r in arch["all_results"].values():
                n += 1
                if n % QUIRKS == quirk:
                    yield file_index, arch, r


@pytest.fixture(scope="module")
def quirky_file(nb201_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture with the layouts other scripts of the official code leave: ordered dicts of pseudo times,
    evaluation records epoch by epoch, lists, gaps and None, numpy scalars, a foreign evaluation set, eval names in
    another order, evaluation records without times or first epochs, a record with two keys swapped, evaluation
    times whose last split is pseudo (new key strings after the ones the accuracies share)."""
    import torch

    data = torch.load(nb201_file, weights_only=False)
    n = 0
    for hp in data["arch2infos"].values():
        for arch in hp.values():
            for r in arch["all_results"].values():
                n += 1
                epochs, names, quirk = r["epochs"], r["eval_names"], n % QUIRKS
                if quirk == 0:
                    r["train_times"] = collections.OrderedDict((e, 1.5) for e in range(epochs))
                    for f in ("eval_acc1es", "eval_losses", "eval_times"):
                        if r[f]:
                            r[f] = {f"{s}@{e}": r[f][f"{s}@{e}"] for e in range(epochs) for s in names}
                elif quirk == 1:
                    for f in ("train_acc1es", "train_losses", "train_times", "train_acc5es"):
                        if r[f] is not None:
                            r[f] = [r[f][e] for e in range(epochs)]
                elif quirk == 2:
                    if isinstance(r["train_times"], dict):
                        r["train_times"].pop(epochs // 2)
                    r["eval_acc1es"][f"{names[0]}@{epochs - 1}"] = None
                    r["eval_times"].pop(f"{names[-1]}@3", None)
                    r["eval_acc1es"].pop(f"{names[-1]}@5")
                elif quirk == 3:
                    r["train_acc1es"] = {e: np.float64(v) for e, v in r["train_acc1es"].items()}
                    r["eval_names"] = [*names, "ori-valid"]
                    r["eval_acc1es"].update({f"ori-valid@{e}": 1.0 for e in range(epochs)})
                elif quirk == 4:
                    items = list(r["eval_acc1es"].items())
                    items[1], items[2] = items[2], items[1]
                    r["eval_acc1es"] = dict(items)
                elif quirk == 5:
                    r["eval_times"] = {}
                    for s in names:
                        del r["eval_acc1es"][f"{s}@0"], r["eval_losses"][f"{s}@0"]
                elif quirk == 6:
                    r["latency"], r["params"] = [0.01, 0.02, -1.0], None
                elif quirk == 7:
                    r["eval_names"] = list(reversed(names))
                elif quirk == 8:  # ResultsCount.reset_pseudo_eval_times on a record without that split's times
                    times = {k: v for k, v in r["eval_times"].items() if not k.startswith(f"{names[-1]}@")}
                    r["eval_times"] = {**times, **{f"{names[-1]}@{e}": 0.25 for e in range(epochs)}}
    return _save(data, tmp_path_factory.mktemp("quirky") / NB201_NAME)


@pytest.mark.parametrize("which", ["nb201_file", "quirky_file"])
def test_builds_what_the_c_unpickler_builds(which: str, request) -> None:
    path = request.getfixturevalue(which)
    fast, how = read_plain(path)
    assert how == FAST_READER
    _same(materialize(fast), safe_pickle.load_plain(path))


def test_per_epoch_records_are_read_as_arrays(nb201_file: Path) -> None:
    data, _ = read_plain(nb201_file)
    trial = data["arch2infos"][0]["full"]["all_results"][("cifar100", 777)]
    for field in ("train_acc1es", "train_acc5es", "train_losses", "train_times", "eval_acc1es", "eval_times",
                  "eval_losses"):
        assert type(trial[field]) is Record, field
    accs = trial["eval_acc1es"]
    assert accs.keys_ is trial["eval_losses"].keys_  # the keys the losses share with the accuracies, once
    first = trial["eval_names"][0]  # update_eval adds the splits in a set's order
    assert list(accs)[:2] == [f"{first}@0", f"{first}@1"] and len(accs) == 3 * 200
    assert accs[f"{first}@199"] == accs.get(f"{first}@199") == float(accs.values_[199])
    assert f"{first}@200" not in accs
    assert list(trial["train_times"]) == list(range(200)) and trial["train_times"].keys_.is_range


def test_importer_makes_the_same_table_from_either_reader(quirky_file: Path, monkeypatch) -> None:
    fast = nb201.read_nb201(quirky_file, curve_splits=nb201.ALL_SPLITS)
    monkeypatch.setattr(nb201, "read_plain", functools.partial(read_plain, fast=False))
    slow = nb201.read_nb201(quirky_file, curve_splits=nb201.ALL_SPLITS)
    assert fast.info["unpickler"] == FAST_READER and slow.info["unpickler"] == C_READER
    assert fast.checksum() == slow.checksum()
    assert sorted(fast.means) == sorted(slow.means) and sorted(fast.curves) == sorted(slow.curves)


def test_a_block_checked_key_by_key(quirky_file: Path) -> None:
    """Two epochs swapped inside a record: the curve is still in epoch order (the keys decide, not the places)."""
    import torch

    data = torch.load(quirky_file, weights_only=False)
    table = nb201.read_nb201(quirky_file, curve_splits=nb201.ALL_SPLITS)
    file_index, arch, r = next(_quirky_trials(data, 4))  # the fixture's meta_archs are in the official order
    split, epochs = r["eval_names"][0], r["epochs"]
    k = arch["dataset_seed"][r["name"]].index(r["seed"])
    curve = table.curves[f"{r['name']}/{split}@{epochs}"][file_index, k]
    for e in (1, 2):
        assert curve[e] == np.float32(r["eval_acc1es"][f"{split}@{e}"])


def test_records_of_shared_and_new_keys_are_runs(quirky_file: Path) -> None:
    """Pseudo evaluation times after measured ones: one record read in two runs, as the C unpickler builds it."""
    import torch

    fast, _ = read_plain(quirky_file)
    data = torch.load(quirky_file, weights_only=False)
    checked = 0
    for file_index, arch, r in _quirky_trials(data, 8):
        hp = next(key for key, a in data["arch2infos"][file_index].items() if a is arch)
        record = fast["arch2infos"][file_index][hp]["all_results"][(r["name"], r["seed"])]["eval_times"]
        assert type(record) is Record and dict(record) == r["eval_times"]
        checked += 1
    assert checked >= 3


def test_gives_up_to_the_c_unpickler(tmp_path: Path) -> None:
    """Opcodes it does not implement (protocol 0's text ones here): the C unpickler reads the file, and says so."""
    data = {"meta_archs": ["a"], "records": {e: 0.5 * e for e in range(20)}}
    path = tmp_path / "text.pth"
    with open(path, "wb") as fh:
        for obj in (safe_pickle.TORCH_MAGIC, safe_pickle.TORCH_PROTOCOL, {}):
            pickle.dump(obj, fh, protocol=2)
        pickle.dump(data, fh, protocol=0)
        pickle.dump([], fh, protocol=2)
    obj, how = read_plain(path)
    assert how.startswith(C_READER) and "gave up: opcode" in how
    assert obj == data


def test_gives_up_when_few_items_are_in_runs(nb201_file: Path, tmp_path: Path, monkeypatch) -> None:
    """A file whose records it reads item by item (a None in each) goes to the C unpickler once judged."""
    import torch

    data = torch.load(nb201_file, weights_only=False)
    for hp in data["arch2infos"].values():
        for arch in hp.values():
            for r in arch["all_results"].values():
                for field in ("train_acc1es", "train_acc5es", "train_losses", "eval_acc1es", "eval_losses"):
                    first = next(iter(r[field]))
                    r[field][first] = None
    path = _save(data, tmp_path / NB201_NAME)
    monkeypatch.setattr(stream_pickle, "_JUDGE_AFTER", 1000)
    monkeypatch.setattr(stream_pickle, "_RELEASE_EVERY", 1 << 16)
    obj, how = read_plain(path)
    assert how.startswith(C_READER) and "are not in runs" in how
    _same(obj, safe_pickle.load_plain(path))


class _Payload:
    """What a malicious file would carry: unpickling it would run a command."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("where", ["top", "inside a record"])
def test_refuses_foreign_classes_and_runs_nothing(where: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    record = {f"x-valid@{e}": 1.0 for e in range(12)}
    if where == "inside a record":
        record["x-valid@5"] = _Payload()
    data = {"meta_archs": ["a"], "arch2infos": {0: {"less": record}}, "x": _Payload() if where == "top" else 1}
    path = _save(data, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match=r"evil\.pth: refuses to build posix\.system.*allowed: "):
        read_plain(path)
    assert not (tmp_path / "pwned").exists()


def test_record_is_a_mapping() -> None:
    keys = stream_pickle.Keys(["a@0", "a@1", "b@0"])
    record = Record(keys, np.array([1.0, -0.0, 2.5]))
    assert list(record) == ["a@0", "a@1", "b@0"] and len(record) == 3 and dict(record) == {"a@0": 1.0, "a@1": -0.0,
                                                                                            "b@0": 2.5}
    assert record.get("c@0") is None and keys.positions(("b@0", "a@0")) == [2, 0] and keys.positions(("c",)) is None
    assert keys.block("a", 2) == 0 and keys.block("b", 1) == 2 and keys.block("b", 2) is None


def _epochwise(rng: np.random.Generator, high: float, epochs: int) -> dict[int, float]:
    return dict(enumerate(rng.uniform(0, high, epochs).tolist()))


def test_the_layout_of_the_v1_1_scripts_is_read_in_runs(tmp_path: Path) -> None:
    """As the official script that made v1.1 fills a cell: evaluations of old checkpoints (``update_OLD_eval``: a
    split of all epochs, the others at the last one only, accuracies and losses under keys of their own), pseudo
    train times (an ordered dict) and evaluation times, each cell an ordered dict of state dicts."""
    from nas_201_api import ArchResults, ResultsCount

    from search_space import Arch

    rng = np.random.default_rng(11)
    arch2infos = {}
    for index in (3, 1000, 15624):
        arch = str(Arch.from_index(index))
        cell = collections.OrderedDict()
        for key, epochs in (("full", 200), ("less", 12)):
            results = ArchResults(index, arch)
            for dataset, (first, *others) in (("cifar10-valid", ("x-valid", "ori-test")),
                                              ("cifar100", ("ori-test", "x-valid", "x-test"))):
                for seed in (777, 888):
                    trial = ResultsCount(dataset, None, _epochwise(rng, 100, epochs), _epochwise(rng, 3, epochs), 0.5,
                                         80.0, {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 100},
                                         seed, epochs, None)
                    trial.update_OLD_eval(first, _epochwise(rng, 100, epochs), _epochwise(rng, 3, epochs))
                    for split in others:
                        trial.update_OLD_eval(split, {epochs - 1: 50.0}, {epochs - 1: 1.5})
                    trial.update_latency([0.01])
                    results.update(dataset, seed, trial)
                results.reset_pseudo_train_times(dataset, None, 12.5)
                for split in (first, *others):
                    results.reset_pseudo_eval_times(dataset, None, split, 0.75)
            cell[key] = results.state_dict()
        arch2infos[index] = cell
    path = _save({"meta_archs": [str(Arch.from_index(i)) for i in range(15625)], "arch2infos": arch2infos,
                  "evaluated_indexes": set(arch2infos)}, tmp_path / NB201_NAME)
    fast, how = read_plain(path)
    assert how == FAST_READER
    trial = fast["arch2infos"][1000]["full"]["all_results"][("cifar100", 888)]
    for field in ("train_acc1es", "train_losses", "train_times", "eval_acc1es", "eval_losses", "eval_times"):
        assert type(trial[field]) is Record, field
    assert len(trial["eval_acc1es"]) == 202 and len(trial["eval_times"]) == 600
    _same(materialize(fast), safe_pickle.load_plain(path))
    table = nb201.read_nb201(path)  # the set of evaluated indexes is admitted (protocol 2 names it __builtin__.set)
    assert table.info["unpickler"] == FAST_READER and table.info["cells_with_results"] == 3
    assert table.means["cifar100/x-valid@200"][1000] == 50.0 and table.means["cifar100/train_seconds@12"][3] == 150.0
