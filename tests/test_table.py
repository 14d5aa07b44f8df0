"""The table file: atomic, checksummed, versioned; damage is reported naming the file, never half-read."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_table

from bench import Benchmark, MissingFigureError, Table, TableError, search_dataset
from bench.sources import cache_dir, open_table, source_kind
from bench.table import FORMAT, FORMAT_VERSION, META, MetricName, pack_trials
from search_space import NUM_ARCHS, Arch


def _table(seed: int = 0) -> Table:
    """A small synthetic table with means, ragged trials (NaN-padded), a curve and provenance."""
    rng = np.random.default_rng(seed)
    table = Table(info={"source": "synthetic", "importer": "test", "notes": [f"seed {seed}"]})
    trials = pack_trials([list(rng.uniform(40, 95, 2 + i % 2)) for i in range(NUM_ARCHS)])
    trials[5] = np.nan  # a cell without figures
    table.add("cifar10-valid/x-valid@200", trials=trials)
    curve = rng.uniform(10, 90, (NUM_ARCHS, 2, 12)).astype(np.float32)
    table.add("cifar10-valid/x-valid@12", mean=curve[:, :, -1].mean(axis=1), curve=curve)
    table.add("cifar100/params_M", mean=rng.uniform(0.1, 1.5, NUM_ARCHS))
    return table


def _leftovers(folder: Path, keep: Path | None = None) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != keep)


# --- round trip ---------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path: Path) -> None:
    table = _table()
    path = table.save(tmp_path / "sub" / "t.nbt.npz")
    assert path == tmp_path / "sub" / "t.nbt.npz"
    back = Table.load(path)
    assert_same_table(table, back)
    assert not back.means["cifar100/params_M"].flags.writeable  # shared read-only, never edited by a caller
    assert _leftovers(path.parent, keep=path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_table_permissions_follow_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = _table().save(tmp_path / "t.nbt.npz")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_overwrite_replaces_whole_table(tmp_path: Path) -> None:
    path = tmp_path / "t.nbt.npz"
    _table(1).save(path)
    newer = _table(2)
    newer.save(path)
    assert_same_table(newer, Table.load(path))
    assert _leftovers(tmp_path, keep=path) == []


# --- damaged and foreign files ------------------------------------------------------------------------
def _raises_naming(path: Path, match: str = "", **kwargs) -> TableError:
    with pytest.raises(TableError) as info:
        Table.load(path, **kwargs)
    assert str(path) in str(info.value)
    assert re.search(match, str(info.value)), str(info.value)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    _raises_naming(tmp_path / "absent.nbt.npz", "does not exist")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.999])
def test_truncated_file(tmp_path: Path, keep: float) -> None:
    path = _table().save(tmp_path / "t.nbt.npz")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    _raises_naming(path)


def test_corrupted_byte_in_any_array(tmp_path: Path) -> None:
    table = _table()
    path = table.save(tmp_path / "t.nbt.npz")
    good = path.read_bytes()
    for part in ("means", "trials", "curves"):
        for name, array in getattr(table, part).items():
            raw = np.ascontiguousarray(array).tobytes()
            where = good.find(raw[4096:4160])
            assert where > 0, f"the bytes of {name} are stored verbatim"
            bad = bytearray(good)
            bad[where + 7] ^= 0x10
            path.write_bytes(bytes(bad))
            key = name + {"means": "", "trials": "#trials", "curves": "#curve"}[part]
            if part != "curves":
                _raises_naming(path, f"corrupted: checksum mismatch in '{re.escape(key)}'")
                continue
            lazy = Table.load(path)  # curves are checked when first read (see tests/test_table_lazy.py)
            with pytest.raises(TableError, match=f"{re.escape(str(path))}.*corrupted.*'{re.escape(key)}'"):
                lazy.curves[name]


def _rewrite(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """A file with the given arrays and meta entry (tampered tables, tables of other versions)."""
    np.savez(path, **arrays, **{META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})


def _contents(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k != META}
        meta = json.loads(npz[META].tobytes().decode())
    return arrays, meta


def test_checksum_catches_changed_values(tmp_path: Path) -> None:
    path = _table().save(tmp_path / "t.nbt.npz")
    arrays, meta = _contents(path)
    arrays["cifar100/params_M"] = arrays["cifar100/params_M"].copy()
    arrays["cifar100/params_M"][123] += 1.0  # a consistent zip (fresh CRCs) whose figures were changed
    _rewrite(path, arrays, meta)
    _raises_naming(path, "checksum mismatch in 'cifar100/params_M'")
    assert Table.load(path, verify=False).means["cifar100/params_M"][123] == arrays["cifar100/params_M"][123]
    del arrays["cifar100/params_M"]
    _rewrite(path, arrays, meta)
    _raises_naming(path, "do not match its index", verify=False)


def test_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "foreign.nbt.npz"
    np.savez(path, a=np.arange(3))
    _raises_naming(path, "not a benchmark table")
    with open(path, "wb") as fh:
        np.save(fh, np.arange(3))  # a single .npy array under a table's name
    _raises_naming(path, "not a benchmark table")
    path.write_text("index,arch\n0,x\n")
    _raises_naming(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    _raises_naming(path, "not a benchmark table")
    _rewrite(path, {"a": np.arange(3)}, {"format": "something-else", "version": 1})
    _raises_naming(path, "has format 'something-else'")
    _rewrite(path, {"a": np.arange(3)}, ["not", "a", "dict"])  # type: ignore[arg-type]
    _raises_naming(path, "expected 'nb201-harness-table'")


def test_wrong_version(tmp_path: Path) -> None:
    path = _table().save(tmp_path / "t.nbt.npz")
    arrays, meta = _contents(path)
    assert meta["format"] == FORMAT and meta["version"] == FORMAT_VERSION
    meta["version"] = FORMAT_VERSION + 1
    _rewrite(path, arrays, meta)
    _raises_naming(path, rf"version {FORMAT_VERSION + 1}.*reads versions? .*{FORMAT_VERSION}")


# --- failed saves leave the old file or nothing ----------------------------------------------------------
def _half_written_then(exc: BaseException):
    def savez(fh, **arrays) -> None:
        fh.write(b"PK\x03\x04 half a table")
        raise exc

    return savez


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
@pytest.mark.parametrize("had_old", [True, False])
def test_failed_save_keeps_old_or_nothing(tmp_path: Path, monkeypatch, exc: BaseException, had_old: bool) -> None:
    path = tmp_path / "t.nbt.npz"
    old = _table(1)
    if had_old:
        old.save(path)
    monkeypatch.setattr(np, "savez", _half_written_then(exc))
    with pytest.raises(type(exc)):
        _table(2).save(path)
    monkeypatch.undo()
    if had_old:
        assert_same_table(old, Table.load(path))
        assert _leftovers(tmp_path, keep=path) == []
    else:
        assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_failed_fsync_or_rename_leaves_nothing(tmp_path: Path, monkeypatch, where: str) -> None:
    path = tmp_path / "t.nbt.npz"
    old = _table(1)
    old.save(path)

    def fail(*args, **kwargs):
        raise OSError(f"{where} failed")

    monkeypatch.setattr(os, where, fail)
    with pytest.raises(OSError, match=where):
        _table(2).save(path)
    monkeypatch.undo()
    assert_same_table(old, Table.load(path))
    assert _leftovers(tmp_path, keep=path) == []


# --- the import cache ----------------------------------------------------------------------------------
def _write_csv(path: Path, seed: int) -> np.ndarray:
    """A tiny CSV source in the published layout; returns its accuracy column."""
    rng = np.random.default_rng(seed)
    acc = np.round(rng.uniform(40, 95, NUM_ARCHS), 4)
    lines = ["index,arch,cifar10-valid/x-valid@200,cifar10-valid/x-valid@200/seeds"]
    lines += [f"{i},{Arch.from_index(i)},{a},{a};{a}" for i, a in enumerate(acc)]
    path.write_text("\n".join(lines) + "\n")
    return acc


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("NB201_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "version"])
def test_cache_rebuilds_a_damaged_entry(tmp_path: Path, cache: Path, damage: str) -> None:
    source = tmp_path / "figures.csv"
    acc = _write_csv(source, seed=3)
    table, cached = open_table(source)
    assert cached is not None and cached.parent == cache_dir() == cache and cached.is_file()
    np.testing.assert_array_equal(table.means["cifar10-valid/x-valid@200"], acc)
    data = cached.read_bytes()
    if damage == "truncate":
        cached.write_bytes(data[: len(data) // 3])
    elif damage == "flip":
        raw = acc.tobytes()
        where = data.find(raw[800:840])
        assert where > 0
        cached.write_bytes(data[:where] + bytes([data[where] ^ 1]) + data[where + 1:])
    elif damage == "foreign":
        np.savez(cached, a=np.arange(3))
    else:
        arrays, meta = _contents(cached)
        _rewrite(cached, arrays, {**meta, "version": 0})
    with pytest.raises(TableError):
        Table.load(cached)
    again, cached_again = open_table(source)
    assert cached_again == cached
    np.testing.assert_array_equal(again.means["cifar10-valid/x-valid@200"], acc)
    np.testing.assert_array_equal(Table.load(cached).means["cifar10-valid/x-valid@200"], acc)  # repaired on disk


def test_cache_follows_its_source(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "figures.csv"
    _write_csv(source, seed=4)
    _, first = open_table(source)
    newer = _write_csv(source, seed=5)
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    table, second = open_table(source)
    assert second != first
    np.testing.assert_array_equal(table.means["cifar10-valid/x-valid@200"], newer)


def test_unwritable_cache_costs_only_speed(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("NB201_CACHE", str(blocker))
    source = tmp_path / "figures.csv"
    acc = _write_csv(source, seed=6)
    table, cached = open_table(source)
    assert cached is None
    np.testing.assert_array_equal(table.means["cifar10-valid/x-valid@200"], acc)


# --- bad queries name the valid choices --------------------------------------------------------------
@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return Benchmark(_table())


def test_unknown_dataset_names_the_choices(bench: Benchmark) -> None:
    valid = "cifar10-valid, cifar10, cifar100, ImageNet16-120"
    with pytest.raises(ValueError, match=f"unknown dataset 'cifar1000'.*{valid}"):
        bench.accuracy(0, "cifar1000", "x-valid")
    with pytest.raises(ValueError, match="not of the form.*datasets: cifar10-valid"):
        bench.accuracy(0, "cifar 10", "x-valid")
    with pytest.raises(ValueError, match="unknown dataset 'cifar-10'; valid: cifar10, cifar100, ImageNet16-120"):
        search_dataset("cifar-10")


def test_unknown_split_names_the_choices(bench: Benchmark) -> None:
    with pytest.raises(ValueError, match="unknown field 'x-tset'.*valid for cifar100: x-valid, x-test, ori-test"):
        bench.accuracy(0, "cifar100", "x-tset")
    with pytest.raises(ValueError, match="unknown field 'x-valid'.*valid for cifar10: ori-test, train"):
        MetricName.parse("cifar10/x-valid@200")


@pytest.mark.parametrize("index", [NUM_ARCHS, -1, 10**9])
def test_index_out_of_range_names_the_range(bench: Benchmark, index: int) -> None:
    with pytest.raises(ValueError, match=f"{index} is out of range 0..{NUM_ARCHS - 1}"):
        bench.value(index, "cifar100/params_M")


def test_missing_figures_are_never_answered(bench: Benchmark) -> None:
    with pytest.raises(MissingFigureError, match="cifar100/x-test@200.*Metrics here: .*cifar100/params_M"):
        bench.value(0, "cifar100/x-test@200")
    with pytest.raises(MissingFigureError, match="of cell 5"):
        bench.rank(5, "cifar10-valid/x-valid@200")  # NaN would otherwise compare as the best
    with pytest.raises(MissingFigureError, match="of cell 5"):
        bench.value(5, "cifar10-valid/x-valid@200", trial=0)
    n = int(bench.num_trials("cifar10-valid/x-valid@200")[0])
    with pytest.raises(ValueError, match=rf"trial {n} is out of range for cell 0.*trials 0..{n - 1}"):
        bench.value(0, "cifar10-valid/x-valid@200", trial=n)
    assert bench.rank(bench.optimum("cifar10-valid/x-valid@200")[0], "cifar10-valid/x-valid@200") == 1


def test_bad_sources_and_shapes(tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"notes\.txt.*valid: 'default'.*\.nbt\.npz.*\.csv.*\.pth.*NATS-tss"):
        source_kind(tmp_path / "notes.txt")
    table = Table()
    with pytest.raises(ValueError, match=rf"shape \({NUM_ARCHS},\), got \(10,\)"):
        table.add("cifar100/params_M", mean=np.zeros(10))
    with pytest.raises(ValueError, match=rf"shape \({NUM_ARCHS}, T\)"):
        table.add("cifar100/x-valid@200", trials=np.zeros(NUM_ARCHS))
    with pytest.raises(ValueError, match="needs a mean or per-trial values"):
        table.add("cifar100/x-valid@200")


# --- the command line in a pipe that closes early (`python -m bench info | head -1`) -------------------------
@pytest.mark.parametrize("buffered", [True, False])
@pytest.mark.parametrize("args", [["info"], ["show", "0"], ["--help"]])
def test_cli_quiet_when_the_reader_leaves(tmp_path: Path, buffered: bool, args: list[str]) -> None:
    """No traceback and no 'Exception ignored' on stderr, whether the closed pipe shows at a write or at exit."""
    import subprocess
    import sys

    path = _table().save(tmp_path / "t.nbt.npz")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "bench", "--bench", str(path), *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader leaves before the first line: every write of the command meets a closed pipe
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) in ((0, 1) if args == ["--help"] else (1,)), stderr
    assert stderr == ""
