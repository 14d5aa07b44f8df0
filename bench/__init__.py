"""The benchmark oracle: a compact table of NAS-Bench-201 figures, its importers, the simulated clock and the
NAS-Bench-201 user API over it."""

from bench.oracle import (
    REPORTED,
    REPORTED_SPLITS,
    SEARCH_DATASETS,
    Benchmark,
    MissingFigureError,
    Resolved,
    index_of,
    proxy_dataset,
    reported_metric,
    search_dataset,
)
from bench.substitutes import SUBSTITUTES, Substitute, check_substitutes
from bench.table import DATASETS, MetricName, Table, TableError, metric

__all__ = [
    "DATASETS",
    "REPORTED",
    "REPORTED_SPLITS",
    "SEARCH_DATASETS",
    "SUBSTITUTES",
    "Benchmark",
    "MetricName",
    "MissingFigureError",
    "Resolved",
    "Substitute",
    "Table",
    "TableError",
    "check_substitutes",
    "index_of",
    "reported_metric",
    "metric",
    "proxy_dataset",
    "search_dataset",
]
