"""Small files in the official NAS-Bench-201 / NATS-Bench schemas, built with the official packages' own classes.

The official files are gigabytes; these hold all 15,625 arch strings and seeded synthetic results for the few
cells of `CELLS`, each carrying a quirk of the real files. The importers' tests and the user API's compatibility
tests read them with the official packages and with ours, and compare.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from search_space import NUM_ARCHS, Arch

NB201_NAME = "NAS-Bench-201-v1_1-096897.pth"
NATS_NAME = "NATS-tss-v1_0-3ffb9"
#: Evaluation splits each dataset has in the official files.
SPLITS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
#: Cells with results in the fixtures, and the quirks of the real files each one carries.
CELLS = {
    0: "three seeds everywhere; 12-epoch runs only on cifar10-valid (like v1_0's 'less')",
    11472: "two seeds; the trials record different params/FLOPs on cifar100 (the source's legacy quirk)",
    6111: "one seed on ImageNet16-120; no latency for one trial; no train times on cifar10; no eval times at 12",
}


# --- fixtures in the official schema ---------------------------------------------------------------
def make_trial(ResultsCount, rng, dataset: str, arch: str, seed: int, epochs: int, quirks: dict):  # noqa: N803
    """One ResultsCount as the official scripts fill it: per-epoch train/eval records, costs, latency."""
    # numpy scalars where the original scripts may have left them (the readers must accept them as plain data)
    params = np.float64(rng.uniform(0.1, 1.5) + quirks.get("params_shift", 0.0))
    flop = float(rng.uniform(10, 200)) + quirks.get("flop_shift", 0.0)
    latency = None if quirks.get("no_latency") else [float(rng.uniform(0.005, 0.03))]
    config = {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": CLASSES[dataset]}
    train_acc = {e: float(rng.uniform(10, 100)) for e in range(epochs)}
    train_loss = {e: float(rng.uniform(0, 3)) for e in range(epochs)}
    res = ResultsCount(dataset, None, train_acc, train_loss, params, flop, config, seed, epochs, latency)
    train_times = None if quirks.get("no_train_times") else {e: float(rng.uniform(5, 40)) for e in range(epochs)}
    res.update_train_info(train_acc, {e: 100.0 for e in range(epochs)}, train_loss, train_times)
    accs, losses, times = {}, {}, {}
    for split in SPLITS[dataset]:
        for e in range(epochs):
            accs[f"{split}@{e}"] = float(rng.uniform(1, 95))
            losses[f"{split}@{e}"] = float(rng.uniform(0, 3))
            times[f"{split}@{e}"] = float(rng.uniform(0.5, 4))
    res.update_eval(accs, losses, times)
    if quirks.get("no_eval_times"):
        res.eval_times = {}
    return res


def cell_results(ArchResults, ResultsCount, index: int, epochs: int, rng) -> dict:  # noqa: N803
    """State dict of one cell's ArchResults for one schedule, with the quirks listed in CELLS."""
    arch = str(Arch.from_index(index))
    out = ArchResults(index, arch)
    for dataset in SPLITS:
        seeds = [777, 888, 999]
        quirks: dict = {}
        if index == 0 and epochs == 12 and dataset != "cifar10-valid":
            continue
        if index == 11472:
            seeds = [777, 888]
        if index == 6111 and dataset == "ImageNet16-120":
            seeds = [888]
        for k, seed in enumerate(seeds):
            q = dict(quirks)
            if index == 11472 and dataset == "cifar100" and k == 0:
                q.update(params_shift=0.25, flop_shift=7.0)
            if index == 6111:
                q.update(no_latency=(k == 1), no_train_times=(dataset == "cifar10"), no_eval_times=(epochs == 12))
            out.update(dataset, seed, make_trial(ResultsCount, rng, dataset, arch, seed, epochs, q))
    return out.state_dict()


def official_results(ArchResults, ResultsCount, seed: int) -> dict[int, dict[int, dict]]:  # noqa: N803
    """index -> epochs -> ArchResults state dict, seeded."""
    rng = np.random.default_rng(seed)
    return {i: {e: cell_results(ArchResults, ResultsCount, i, e, rng) for e in (12, 200)} for i in CELLS}


def meta_archs(permute: bool = False) -> list[str]:
    archs = [str(Arch.from_index(i)) for i in range(NUM_ARCHS)]
    if permute:  # a file in another order: our importer must place cells by arch string, not by position
        archs[0], archs[11472], archs[7] = archs[7], archs[0], archs[11472]
    return archs


def write_nb201_file(folder: Path) -> Path:
    """A NAS-Bench-201 v1.1 file in the official schema (torch's legacy layout, as the 2020 files)."""
    import torch
    from nas_201_api import ArchResults, ResultsCount

    results = official_results(ArchResults, ResultsCount, seed=201)
    data = {
        "meta_archs": meta_archs(),
        "arch2infos": {i: {"less": r[12], "full": r[200]} for i, r in results.items()},
        "evaluated_indexes": sorted(results),
    }
    path = folder / NB201_NAME
    torch.save(data, path, _use_new_zipfile_serialization=False)  # the 2020 files predate torch's zip format
    return path


def nats_results(permute: bool) -> tuple[list[str], dict[int, dict]]:
    from nats_bench import ArchResults, ResultsCount

    archs = meta_archs(permute)
    results = official_results(ArchResults, ResultsCount, seed=2020)
    by_file_index = {archs.index(str(Arch.from_index(i))): r for i, r in results.items()}
    return archs, {j: {"12": r[12], "200": r[200]} for j, r in by_file_index.items()}


def write_nats_file(folder: Path) -> Path:
    """A NATS-Bench topology file (everything in one pickle)."""
    from nats_bench import pickle_save

    archs, infos = nats_results(permute=False)
    base = folder / f"{NATS_NAME}.pickle"
    pickle_save({"meta_archs": archs, "arch2infos": infos, "evaluated_indexes": sorted(infos)}, base)
    return Path(f"{base}.pbz2")


def write_nats_folder(parent: Path) -> Path:
    """A NATS-Bench topology folder (one file per cell), in another cell order."""
    from nats_bench import pickle_save

    archs, infos = nats_results(permute=True)
    folder = parent / f"{NATS_NAME}-simple"
    folder.mkdir()
    pickle_save({"meta_archs": archs}, folder / "meta.pickle")
    for j, hp2res in infos.items():
        pickle_save(hp2res, folder / f"{j:06d}.pickle")
    return folder
