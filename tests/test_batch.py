"""The batch on dask.distributed (2 local workers on 127.0.0.1): chunks, failures, worker crashes, re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_runner import folder, run_cli, toys  # noqa: F401 - the toy searchers' fixture

from runners.batch import _collect, chunk_specs, run_batch
from runners.cli import main
from runners.layout import ERROR, RESULT, TRACE
from runners.plan import plan_runs
from runners.seeds import derive_seeds


def test_chunks_group_query_runs_and_keep_weight_sharing_runs_alone(toys: None) -> None:  # noqa: F811
    specs, _ = plan_runs(["toy-query", "toy-ws"], ["cifar10", "cifar100"], [1, 2, 3, 4, 5], "nats")
    chunks = chunk_specs(specs, 2)  # 5 runs per group, 1 worker: chunks of 2, 2, 1
    q = [c for c in chunks if c[0].kind == "query"]
    assert sorted(len(c) for c in q) == [1, 1, 2, 2, 2, 2]
    assert all(len({(s.algo, s.dataset) for s in c}) == 1 for c in chunks)
    assert sum(len(c) for c in chunks) == len(specs) and sum(c[0].kind != "query" for c in chunks) == 10


def test_batch_on_dask_with_a_failure_and_a_worker_crash(toys: None, tmp_path: Path,  # noqa: F811
                                                         capsys: pytest.CaptureFixture) -> None:
    """One run raises (its traceback is kept, the rest finish); one kills its worker once (dask re-runs it)."""
    results = tmp_path / "results"
    seeds = derive_seeds(5, 6)
    marker = tmp_path / "crashed"
    args = ["batch", "--algos", "toy-query", "toy-ws", "--datasets", "cifar10", "cifar100", "--seeds", "-1",
            "--runs", "6", "--ws-runs", "6", "--master-seed", "5", "--protocol", "nb201", "--workers", "2", "--chunk", "4",
            "--results", str(results), "--no-report", "--set", f"fail_seed={seeds[1]}",
            "--set", f"crash_seed={seeds[4]}", "--set", f"crash_marker={marker}"]
    assert main(args) == 1  # a run failed
    out = capsys.readouterr()
    assert marker.exists()  # the worker really died once
    for d in ("cifar10", "cifar100"):
        for i, s in enumerate(seeds):
            f = folder(results, "toy-query", s, d)
            if i == 1:
                assert not (f / RESULT).exists() and "toy failure on purpose" in (f / ERROR).read_text()
            else:
                assert (f / RESULT).is_file() and len(pd.read_csv(f / TRACE)) == 20
    # the search datasets named are searched by every algorithm (the batch's 6 runs stand for seed -1)
    for d in ("cifar10", "cifar100"):
        assert len(list((results / "nb201" / d / "toy-ws").iterdir())) == 6
    summary = json.loads((results / "nb201" / "batch-summary.json").read_text())
    assert summary["counts"]["toy-query"] == {"finished": 10, "failed": 2}
    assert {f["seed"] for f in summary["failed"]} == {seeds[1]}
    assert all("toy failure on purpose" in f["error"] for f in summary["failed"])
    assert "FAILED" in out.out and "batch-summary.json" in out.out
    # re-run with the bug fixed: finished runs are skipped, only the failed ones run
    before = (folder(results, "toy-query", seeds[0]) / RESULT).read_bytes()
    summary2 = run_batch(plan_runs(["toy-query", "toy-ws"], ["cifar10", "cifar100"], [-1], "nb201",
                                   results=results, runs=6, ws_runs=6, master_seed=5, batch=True)[0],
                         workers=0, progress=False)
    assert summary2.count("finished") == 2 and summary2.count("skipped") == 22 and not summary2.failed
    assert (folder(results, "toy-query", seeds[0]) / RESULT).read_bytes() == before
    assert not (folder(results, "toy-query", seeds[1]) / ERROR).exists()


def test_a_dead_task_fails_a_run_that_still_holds_other_settings(toys: None, tmp_path: Path) -> None:  # noqa: F811
    """A run kept for --redo-changed whose worker died before it was redone still holds the old result: failed,
    not finished; a run the task finished before it died is finished."""
    results = tmp_path / "results"
    assert run_cli("toy-query", "--seed", "7", "--results", str(results), "--set", "cost=150") == 0
    assert run_cli("toy-query", "--seed", "8", "--results", str(results), "--set", "cost=200") == 0

    class Died:
        def result(self) -> None:
            raise RuntimeError("worker killed")

    specs, _ = plan_runs(["toy-query"], ["cifar10"], [7, 8], "nb201", results=results, overrides=["cost=200"])
    old = (folder(results, "toy-query", 7) / RESULT).read_bytes()
    statuses = {st.seed: st for st in _collect(Died(), specs)}
    assert statuses[7].status == "failed" and "worker killed" in statuses[7].error
    assert "worker killed" in (folder(results, "toy-query", 7) / ERROR).read_text()
    assert (folder(results, "toy-query", 7) / RESULT).read_bytes() == old  # redone by the next batch
    assert statuses[8].status == "finished" and not (folder(results, "toy-query", 8) / ERROR).exists()


def test_batch_on_an_existing_cluster(toys: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    """--scheduler: the batch uses the given cluster (workers without declared resources) and leaves it running;
    --gpu on a cluster without a GPU resource is a clear error."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        common = ["--scheduler", cluster.scheduler_address, "--results", str(tmp_path), "--no-progress",
                  "--no-report", "--protocol", "nats"]
        assert main(["batch", "--algos", "toy-query", "--datasets", "ImageNet16-120", "--seeds", "1", "2", "3",
                     *common]) == 0
        for s in (1, 2, 3):
            assert (folder(tmp_path, "toy-query", s, "ImageNet16-120", "nats") / RESULT).is_file()
        assert main(["batch", "--algos", "toy-ws", "--datasets", "cifar10", "--seeds", "1", "--gpu", *common]) == 2
        assert "no worker of the cluster advertises a GPU resource" in capsys.readouterr().err
        with Client(cluster.scheduler_address) as c:  # still up
            assert len(c.scheduler_info()["workers"]) == 2
