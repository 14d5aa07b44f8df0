"""The embedded default benchmark: the published per-cell figures of NAS-Bench-201, shipped as a table file.

``bench/data/nb201_tss.nbt.npz`` is ``nb201_tss.csv.gz`` (every cell's 200-epoch valid and test accuracies, their
per-trial values where published, 12-epoch trial means, train time, latency and parameters; see
``bench/data/README.md``) read by our CSV importer and saved deflated: 1.6 MB in the repository, read in
milliseconds by `bench.Benchmark.load()` with no import step and no cache. Rebuild it (same arrays, same
checksums) with::

    python -m bench.default ../shared/data/nb201/nb201_tss.csv.gz

It lacks per-trial 12-epoch accuracy (only the trial mean is published), 12-epoch training time, evaluation time,
per-epoch curves, losses, FLOPs and the CIFAR-10 (train+valid) model figures; `LACKS` says so in words, and the
runners' default substitutes (`runners.plan.DEFAULT_SOURCE_SUBSTITUTES`) stand in for what the searchers need.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.table import Table, TableError

#: The shipped table.
PATH = Path(__file__).resolve().parent / "data" / "nb201_tss.nbt.npz"
#: The published file it is made from.
CSV_NAME = "nb201_tss.csv.gz"
#: How results and error messages name the default.
SOURCE = f"the embedded default: published NAS-Bench-201 figures ({CSV_NAME}, shipped as bench/data/{PATH.name})"
#: What the published figures do not include (the official files do), in the table's notes.
LACKS = (
    "per-trial 12-epoch accuracy (only the trial mean is published): a 'random trial' 12-epoch query needs the "
    "'trial-mean' substitute",
    "12-epoch training time: 'train200-scaled' (train_seconds@200 x 12/200) stands in when named",
    "evaluation time of a validation pass: 'no-eval-time' waives charging it when named",
    "per-epoch curves (accuracy after k < E epochs): 'final-for-epoch' when named",
    "losses, training accuracy, cifar10-valid's ori-test accuracy, per-trial CIFAR-10 test accuracy",
    "FLOPs (the user API counts them with supernet.flops and marks them computed), and the model figures of "
    "cifar10 (train+valid; the same network as cifar10-valid)",
)


def build(csv: str | Path, out: str | Path = PATH) -> Path:
    """Convert the published CSV into the shipped table (deflated, provenance in its ``info``)."""
    from bench.importers.csv import read_csv

    csv = Path(csv)
    if not csv.is_file():
        raise TableError(f"the published figures {str(csv)!r} do not exist (expected {CSV_NAME})")
    table = read_csv(csv)
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()
    table.info = {"source": SOURCE, "importer": "csv", "converter": "python -m bench.default CSV",
                  "csv": {"name": csv.name, "sha256": digest, "bytes": csv.stat().st_size},
                  "trial_order": "as published (the seeds of the trials are not recorded)",
                  "notes": [f"lacks {what}" for what in LACKS]}
    return table.save(out, compress=True)


def load() -> Table:
    """The shipped table; a missing or damaged file is a `TableError` saying how to rebuild it."""
    try:
        return Table.load(PATH)
    except TableError as exc:
        raise TableError(f"{exc}; the embedded default ships with the harness: restore it with `git checkout -- "
                         f"bench/data/{PATH.name}` or rebuild it with `python -m bench.default CSV`") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.default", description=__doc__.splitlines()[0])
    parser.add_argument("csv", help=f"the published figures ({CSV_NAME})")
    parser.add_argument("--out", type=Path, default=PATH, help=f"table file to write (default: {PATH})")
    args = parser.parse_args(argv)
    try:
        path = build(args.csv, args.out)
    except (TableError, ValueError, OSError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    table = Table.load(path)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MiB; {len(table.means)} metrics, {len(table.trials)} "
          f"with trials) from {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
