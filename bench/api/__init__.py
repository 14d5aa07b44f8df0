"""The official user APIs of NAS-Bench-201 over our benchmark sources, so code written for them runs here.

- `NASBench201API` (= `API`): ``nas_201_api`` v2.x's calls, argument orders, defaults and answer keys;
- `NATStopology` and `create(path, 'tss')`: ``nats_bench``'s topology API, where its signatures differ;
- `AANASBenchAPI`: the names and tuple answers of AA-NAS-Bench (NAS-Bench-201's first release);
- `ArchResults` / `ResultsCount`: one cell on one schedule, one trial of it;
- `str2lists`, `str2matrix`: the official readings of an arch string; `get_cell_based_tiny_net(config)`: our
  stand-alone network from ``api.get_net_config(i, dataset)``.

Any source the harness reads works: ``API()`` is the embedded default (the published figures), ``API(path)`` a
table, a CSV, an official ``.pth``, a NATS-Bench file or a benchmark built by ``python -m runners.generate`` (whose
weights ``reload`` / ``get_net_param`` serve when it kept them). A figure the source lacks is an error that names
it and the files that have it, or the documented substitute the caller named (``substitutes=``); never an empty
dict or a silent default. `figures` says how the table is read; `answer` what a dict answer holds.
"""

from bench.api.aa import AAArchResults, AANASBenchAPI, AAResultsCount
from bench.api.answer import AbsentFigureError, Answer, MoreInfo
from bench.api.encoding import str2lists, str2matrix
from bench.api.nats import NATStopology, create
from bench.api.nb201 import API, EVAL_SETS, INFO_DATASETS, SIM_DATASETS, NASBench201API, remap_dataset_set_names
from bench.api.networks import get_cell_based_tiny_net
from bench.api.results import ArchResults, ResultsCount, UnknownTrialError
from bench.api.weights import NoWeightsError

#: The schedules of the official topology benchmarks (a source may have others: ``api.avaliable_hps``).
HPS = ("12", "200")

__all__ = ["API", "EVAL_SETS", "HPS", "INFO_DATASETS", "SIM_DATASETS", "AAArchResults", "AANASBenchAPI",
           "AAResultsCount", "AbsentFigureError", "Answer", "ArchResults", "MoreInfo", "NASBench201API",
           "NATStopology", "NoWeightsError", "ResultsCount", "UnknownTrialError", "create", "get_cell_based_tiny_net",
           "remap_dataset_set_names", "str2lists", "str2matrix"]
