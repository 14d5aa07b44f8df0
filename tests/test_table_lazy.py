"""Per-epoch curves are read and checked at first use, not at load: the oracle loads fast, damage is still caught."""

from __future__ import annotations

import pickle
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_table

import bench.table as table_module
from bench import Table, TableError
from bench.__main__ import main as bench_main
from bench.table import Curves
from search_space import NUM_ARCHS

CURVES = ("cifar10-valid/x-valid@12", "cifar100/x-valid@200")


def _table(seed: int = 0) -> Table:
    """Means, trials and two curves (tiny epoch counts: only the laziness is under test)."""
    rng = np.random.default_rng(seed)
    table = Table(info={"source": "synthetic-lazy", "seed": seed})
    table.add("cifar10-valid/x-valid@200", trials=rng.uniform(40, 95, (NUM_ARCHS, 3)))
    for name, epochs in zip(CURVES, (12, 5), strict=True):
        curve = rng.uniform(10, 90, (NUM_ARCHS, 2, epochs)).astype(np.float32)
        table.add(name, mean=curve[:, :, -1].mean(axis=1), curve=curve)
    return table


@pytest.fixture()
def digests(monkeypatch) -> list[tuple[int, ...]]:
    """The shape of every array whose checksum is computed."""
    seen: list[tuple[int, ...]] = []
    real = table_module._digest

    def counting(a: np.ndarray) -> str:
        seen.append(a.shape)
        return real(a)

    monkeypatch.setattr(table_module, "_digest", counting)
    return seen


def _flip_in_file(path: Path, array: np.ndarray) -> None:
    """Change one byte inside ``array``'s stored bytes (the zip stays well formed; only the checksum can tell)."""
    data = bytearray(path.read_bytes())
    where = bytes(data).find(np.ascontiguousarray(array).tobytes()[4096:4160])
    assert where > 0
    data[where + 3] ^= 0x40
    path.write_bytes(bytes(data))


def test_load_reads_no_curve(tmp_path: Path, digests: list) -> None:
    path = _table().save(tmp_path / "t.nbt.npz")
    digests.clear()
    table = Table.load(path)
    assert len(digests) == len(table.means) + len(table.trials) == 4  # the curves were not hashed...
    assert isinstance(table.curves, Curves) and list(table.curves) == list(CURVES)
    assert not any(table.curves.is_loaded(k) for k in CURVES)  # ...nor read
    # what every caller asks without needing the values reads nothing
    assert CURVES[0] in table.curves and "cifar100/x-test@200" not in table.curves and len(table.curves) == 2
    assert table.curves.get("cifar100/x-test@200") is None
    assert table.curves.shape(CURVES[1]) == (NUM_ARCHS, 2, 5)
    assert "not read" in repr(table.curves)
    assert not any(table.curves.is_loaded(k) for k in CURVES) and len(digests) == 4

    first = table.curves[CURVES[1]]  # read and checked once, then kept
    assert table.curves.is_loaded(CURVES[1]) and not table.curves.is_loaded(CURVES[0])
    assert digests[4:] == [(NUM_ARCHS, 2, 5)]
    assert table.curves.get(CURVES[1]) is first and table.curves[CURVES[1]] is first and len(digests) == 5
    assert not first.flags.writeable
    np.testing.assert_array_equal(first, _table().curves[CURVES[1]])


def test_verify_false_hashes_nothing(tmp_path: Path, digests: list) -> None:
    path = _table().save(tmp_path / "t.nbt.npz")
    digests.clear()
    table = Table.load(path, verify=False)
    for k in CURVES:
        assert table.curves[k].shape[0] == NUM_ARCHS
    assert digests == []


def test_corrupted_curve_raises_at_first_access_not_at_load(tmp_path: Path) -> None:
    original = _table()
    path = original.save(tmp_path / "t.nbt.npz")
    _flip_in_file(path, original.curves[CURVES[0]])
    table = Table.load(path)  # the means and trials are intact: the load succeeds
    np.testing.assert_array_equal(table.curves[CURVES[1]], original.curves[CURVES[1]])
    message = rf"{re.escape(str(path))}.*corrupted: checksum mismatch in '{re.escape(CURVES[0])}#curve'"
    for _ in range(2):  # a bad curve is never kept as good
        with pytest.raises(TableError, match=message):
            table.curves[CURVES[0]]
        with pytest.raises(TableError, match=message):
            table.curves.get(CURVES[0])
    assert not table.curves.is_loaded(CURVES[0])
    # verify=False skips the SHA-256 (no hashing cost), but the archive's own CRC-32 is still checked on every read
    unchecked = Table.load(path, verify=False)
    with pytest.raises(TableError, match=message):
        unchecked.curves[CURVES[0]]


def test_round_trip_with_curves_never_read(tmp_path: Path) -> None:
    original = _table()
    path = original.save(tmp_path / "a.nbt.npz")
    loaded = Table.load(path)
    copy = loaded.save(tmp_path / "b.nbt.npz")  # curves never accessed: saving reads (and checks) them
    assert_same_table(original, Table.load(copy))
    again = Table.load(copy)
    again.save(copy)  # over its own file while its curves are still lazy: they come from the old inode
    assert_same_table(original, Table.load(copy))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nbt.npz", "b.nbt.npz"]


def test_save_refuses_to_copy_a_corrupted_curve(tmp_path: Path) -> None:
    original = _table()
    path = original.save(tmp_path / "a.nbt.npz")
    _flip_in_file(path, original.curves[CURVES[1]])
    with pytest.raises(TableError, match=re.escape(CURVES[1])):
        Table.load(path).save(tmp_path / "b.nbt.npz")
    assert not (tmp_path / "b.nbt.npz").exists()


def test_file_replaced_by_rename_while_open(tmp_path: Path) -> None:
    """An open table keeps reading the file it opened: its curves always match its means."""
    path = tmp_path / "t.nbt.npz"
    old, new = _table(1), _table(2)
    old.save(path)
    opened = Table.load(path)
    new.save(path)  # atomic: written aside, renamed over the path
    assert_same_table(old, opened)
    assert_same_table(new, Table.load(path))


def test_file_truncated_in_place_while_open(tmp_path: Path) -> None:
    """Not supported (every writer renames), but reported as an error naming the file, not a crash (SIGBUS)."""
    path = _table().save(tmp_path / "t.nbt.npz")
    opened = Table.load(path)
    with open(path, "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(TableError, match=rf"{re.escape(str(path))}.*truncated in place"):
        opened.curves[CURVES[0]]
    assert opened.means["cifar10-valid/x-valid@200"].shape == (NUM_ARCHS,)  # copied at load


def test_concurrent_first_access_reads_once(tmp_path: Path, digests: list) -> None:
    path = _table().save(tmp_path / "t.nbt.npz")
    table = Table.load(path)
    digests.clear()
    start = threading.Barrier(4)
    got: list[np.ndarray] = []

    def read() -> None:
        start.wait()
        got.append(table.curves[CURVES[0]])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(digests) == 1 and len(got) == 4 and all(g is got[0] for g in got)


def test_pickled_table_carries_its_curves(tmp_path: Path) -> None:
    original = _table()
    loaded = Table.load(original.save(tmp_path / "t.nbt.npz"))
    back = pickle.loads(pickle.dumps(loaded))
    assert isinstance(back.curves, Curves) and all(back.curves.is_loaded(k) for k in CURVES)
    assert_same_table(original, back)


def test_plain_dict_of_curves_and_edits() -> None:
    curve = np.zeros((NUM_ARCHS, 1, 3), dtype=np.float32)
    table = Table(curves={CURVES[0]: curve})
    assert isinstance(table.curves, Curves) and table.curves[CURVES[0]] is curve
    table.curves[CURVES[1]] = curve
    del table.curves[CURVES[0]]
    assert list(table.curves) == [CURVES[1]] and table.curves.shape(CURVES[1]) == (NUM_ARCHS, 1, 3)


def test_cli_info_reads_no_curve(tmp_path: Path, digests: list, capsys) -> None:
    path = _table().save(tmp_path / "t.nbt.npz")
    digests.clear()
    assert bench_main(["--bench", str(path), "info"]) == 0
    out = capsys.readouterr().out
    assert "cifar100/x-valid@200  [per-epoch curves (5 epochs)]" in out
    assert len(digests) == 4  # means and trials only
