"""A benchmark build on the batch engine (`runners.generate.engine` over `runners.cluster`): the same figures as in one
process, a failing job recorded while the others finish, a worker and then the driver SIGKILLed mid-build and the
build started again, GPU pinning of local workers, and the command line's checks.

The builds are smoke-sized (the offline digits, C=2, N=1): a job takes a second or two.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import kill_driver_alone, kill_group
from test_runner import PY, ROOT

from bench import Benchmark
from bench.generate import BENCHMARK, build_benchmark, run_local, write_plan
from bench.generate.files import is_done
from bench.generate.plan import Plan, read_plan
from bench.generate.smoke import smoke_plan
from bench.generate.status import build_status, format_status
from bench.generate.train import CHECKPOINT, RESULT, JobOptions
from runners import cluster
from runners.generate import __main__ as cli
from runners.generate.engine import ERROR, run_jobs
from runners.plan import UsageError

CELLS = (640, 4214, 4809, 7984, 9949, 13286)


def _plan(threads: int | None = 1, epochs: int = 2, **kw) -> Plan:  # noqa: ANN003
    return smoke_plan(cells=CELLS, seeds=(777,), epochs=epochs, settings=("cifar10-valid",), threads=threads, **kw)


def _figures(root: Path) -> dict[str, tuple]:
    """Every finished job's training and evaluation curves (wall-clock times left out), by job folder."""
    out = {}
    for path in sorted(root.glob(f"runs/*/*/*/*/{RESULT}")):
        res = json.loads(path.read_text())
        train = {k: v for k, v in res["train"].items() if k != "seconds"}
        evals = {n: {k: v for k, v in r.items() if k not in ("seconds", "latency_s")} for n, r in res["eval"].items()}
        out[str(path.parent.relative_to(root))] = (train, evals)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kill test's build, in this process, never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    write_plan(smoke_plan(6, seeds=(777,), epochs=6, settings=("cifar10-valid",), threads=1), root)  # the command's
    run_local(root, log=None)
    return root


def test_a_build_on_a_local_cluster_equals_one_in_process(tmp_path: Path) -> None:
    """Two workers train the jobs; each job gets the cores shared among the workers (recorded), and the figures and
    the merged table equal those of the same plan trained in one process with that thread count."""
    threads = max(1, (os.cpu_count() or 1) // 2)
    on_cluster, in_process = tmp_path / "cluster", tmp_path / "local"
    write_plan(_plan(threads=None), on_cluster)
    write_plan(_plan(threads=threads), in_process)
    statuses = run_jobs(on_cluster, workers=2, progress=False, log=None)
    assert sorted(s.status for s in statuses) == ["done"] * len(CELLS)
    run_local(in_process, log=None)
    got, want = _figures(on_cluster), _figures(in_process)
    assert len(got) == len(CELLS) and got == want
    for path in on_cluster.glob(f"runs/*/*/*/*/{RESULT}"):
        assert json.loads(path.read_text())["job"]["threads"] == threads
    a, b = Benchmark.load(build_benchmark(on_cluster)), Benchmark.load(build_benchmark(in_process))
    metric = "cifar10-valid/x-valid@2"
    assert (a.values(list(CELLS), metric) == b.values(list(CELLS), metric)).all()
    # started again: nothing left to do, every job reported as skipped, no cluster needed
    again = run_jobs(on_cluster, workers=2, progress=False, log=None)
    assert sorted(s.status for s in again) == ["skipped"] * len(CELLS)


def test_a_failing_job_is_recorded_and_the_others_finish(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """CIFAR-10 jobs whose JPEG folder does not exist fail (traceback in ERROR, exit status 1); the CIFAR-100 jobs
    (smoke data) of the same build finish, and the table holds them."""
    plan = Plan(archs=CELLS[:2], settings=("cifar10-valid", "cifar100"), seeds=(777,),
                schedules=_plan().schedules, data=(("cifar10", "cifar10-jpeg"), ("cifar100", "smoke")),
                options=JobOptions(data_dir=str(tmp_path / "no-such-folder"), threads=1, device="cpu"))
    write_plan(plan, tmp_path)
    rc = cli.main(["run", str(tmp_path), "--workers", "1", "--no-progress"])
    out = capsys.readouterr()
    assert rc == 1
    failed = sorted(tmp_path.glob(f"runs/*/cifar10-valid/*/*/{ERROR}"))
    assert len(failed) == 2 and "cifar10-jpeg" in failed[0].read_text()
    assert all(not is_done(f.parent) for f in failed)
    assert len(list(tmp_path.glob("runs/*/cifar100/*/*/DONE"))) == 2
    assert "'failed': 2" in out.out and "'done': 2" in out.out and "failed:" in out.err
    states = Counter(s.state for s in build_status(tmp_path))
    assert states == {"failed": 2, "done": 2}
    assert cli.main(["status", str(tmp_path), "--jobs"]) == 0
    shown = capsys.readouterr().out
    assert [line.split()[1:5] for line in shown.splitlines() if line.startswith("all")] == [["2", "0", "2", "0"]]
    table = Benchmark.load(build_benchmark(tmp_path))
    assert table.values(list(CELLS[:2]), "cifar100/x-test@2").tolist() == pytest.approx(
        [json.loads(p.read_text())["summary"]["final"]["x-test"]
         for p in sorted(tmp_path.glob(f"runs/*/cifar100/*/*/{RESULT}"))])


# --- kills, for real -----------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    """Live worker processes started by ``pid`` (multiprocessing's spawned children)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmdline:
            out.append(int(stat.parent.name))
    return out


def _mid_job(root: Path, proc: subprocess.Popen, log: Path, timeout: float = 120) -> Path:
    """A job folder with an epoch checkpoint and no DONE marker: a job in the middle of its training."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for ckpt in root.glob(f"runs/*/*/*/*/{CHECKPOINT}"):
            if not is_done(ckpt.parent):
                return ckpt.parent
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"no job reached a checkpoint mid-run (build rc={proc.poll()}):\n{log.read_text()[-4000:]}")


def _progressed(folder: Path, since_ns: int) -> bool:
    """Whether a job got on after ``since_ns``: a newer epoch checkpoint, or finished."""
    try:
        return is_done(folder) or (folder / CHECKPOINT).stat().st_mtime_ns > since_ns
    except FileNotFoundError:  # a checkpoint is removed only after DONE is written
        return is_done(folder)


def _command(root: Path) -> list[str]:
    return [PY, "-m", "runners.generate", "smoke", str(root), "--cells", "6", "--epochs", "6", "--seeds", "777",
            "--settings", "cifar10-valid", "--threads", "1", "--workers", "2", "--no-progress"]


def test_a_worker_and_then_the_driver_killed_mid_build(reference: Path, tmp_path: Path) -> None:
    root, log = tmp_path / "build", tmp_path / "build.log"
    cmd = _command(root)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # 1. the workers die in the middle of a job: dask re-runs its task elsewhere, which resumes the job
        first = _mid_job(root, proc, log)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.time_ns()
        assert not is_done(first)
        end = time.monotonic() + 120
        while not _progressed(first, killed_at) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        assert _progressed(first, killed_at), f"the killed job was not taken up again:\n{log.read_text()[-4000:]}"
        # 2. the driver dies alone (as under the OOM killer) with jobs in the middle: no worker outlives it
        orphans = kill_driver_alone(proc)
        middle = [f.parent for f in root.glob(f"runs/*/*/*/*/{CHECKPOINT}") if not is_done(f.parent)]
    finally:
        kill_group(proc)
    assert orphans == [], f"worker processes outlived the driver: {orphans}"
    # finished = DONE written (a job killed between writing result.json and DONE is redone, not skipped)
    done_before = {p.parent: p.read_bytes() for p in root.glob(f"runs/*/*/*/*/{RESULT}") if is_done(p.parent)}
    assert middle and len(done_before) < len(CELLS)
    with open(log, "ab") as fh:  # 3. the same command again, to the end
        rerun = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=300)
    assert rerun.returncode == 0, log.read_text()[-4000:]
    counts = ast.literal_eval(log.read_text().splitlines()[-2].removeprefix("jobs: "))
    assert counts == {"done": len(CELLS) - len(done_before), "skipped": len(done_before)} if done_before else \
        counts == {"done": len(CELLS)}
    for folder, before in done_before.items():  # finished jobs untouched
        assert (folder / RESULT).read_bytes() == before
    for folder in {first, *middle}:  # each resumed from its checkpoint, not started afresh
        assert json.loads((folder / RESULT).read_text())["resumed_from_epoch"] >= 1, folder
    assert read_plan(root) == read_plan(reference)
    assert _figures(root) == _figures(reference)  # killed and resumed == uninterrupted, job for job
    assert (root / BENCHMARK).is_file()


# --- GPU workers (no GPU needed: the pinning is plain environment work) ---------------------------------------
def test_local_gpu_workers_each_see_one_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert cluster.visible_gpus() == ["2", "3"]
    monkeypatch.setenv(cluster.GPU_LIST_ENV, "2,3")
    assert [cluster.gpu_slot(n, 2) for n in range(4)] == [0, 1, 0, 1]
    assert cluster.pin_gpu(1) == "3" and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert cluster.pin_gpu(2) == "2"
    with pytest.raises(ValueError, match="cannot pick a GPU for worker 'tcp"):
        cluster.gpu_slot("tcp://127.0.0.1:1", 2)
    monkeypatch.delenv(cluster.GPU_LIST_ENV)
    assert cluster.pin_gpu(0) is None  # not a GPU cluster: the environment is left alone


def _visible_devices() -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


def test_a_local_gpu_cluster_gives_each_worker_its_own_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real local cluster with --gpu: each worker advertises GPU=1 and sees only its own device (set before anything
    in the worker touches CUDA; no GPU is needed to check the pinning); three workers share two GPUs round-robin."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    monkeypatch.delenv(cluster.SCHEDULER_ENV, raising=False)
    with cluster.open_client(gpu=True, workers=3) as client:
        seen = client.run(_visible_devices)
        workers = client.scheduler_info()["workers"]
        assert {w["name"]: seen[addr] for addr, w in workers.items()} == {0: "3", 1: "5", 2: "3"}
        assert all(w["resources"] == {"GPU": 1} for w in workers.values())


def test_gpu_without_a_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv(cluster.SCHEDULER_ENV, raising=False)
    with pytest.raises(UsageError, match="no CUDA device"), cluster.open_client(gpu=True):
        pass
    write_plan(_plan(), tmp_path)
    assert cli.main(["run", str(tmp_path), "--gpu"]) == 2
    assert "--gpu was given but this machine shows no CUDA device" in capsys.readouterr().err
    assert cli.main(["run", str(tmp_path), "--workers", "-1"]) == 2
    assert "--workers must be >= 0, got -1" in capsys.readouterr().err


def test_status_while_a_build_is_under_way(tmp_path: Path) -> None:
    """Jobs left after one epoch are ``started`` (checkpoint, no result), the others ``pending``; nothing is
    written by asking."""
    write_plan(_plan(), tmp_path)
    run_local(tmp_path, shard=(0, 3), stop_after=1, log=None)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    states = build_status(tmp_path)
    assert [s.state for s in states] == ["started" if i % 3 == 0 else "pending" for i in range(len(CELLS))]
    assert format_status(states).splitlines()[-1].split() == ["all", "0", "2", "0", "4", "6"]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_plan_options_are_stored_once_and_read_back(tmp_path: Path) -> None:
    """The options every job shares live once in the plan (flat in plan.json, as before) and reach every job."""
    plan = _plan(subset=100, eval_subset=50)
    plan = dataclasses.replace(plan, options=dataclasses.replace(plan.options, loader_workers=2))
    write_plan(plan, tmp_path)
    raw = json.loads((tmp_path / "plan.json").read_text())
    assert raw["subset"] == 100 and raw["loader_workers"] == 2 and "options" not in raw
    back = read_plan(tmp_path)
    assert back == plan and {j.options for j in back.jobs()} == {plan.options}
    legacy = {k: v for k, v in raw.items() if k != "loader_workers"} | {"workers": 3}
    assert Plan.from_dict(legacy).options.loader_workers == 3
    with pytest.raises(ValueError, match="loader_workers must be >= 0"):
        JobOptions(loader_workers=-1)


def test_a_plan_refuses_an_unknown_device_before_any_job(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["plan", str(tmp_path / "p"), "--archs", "1", "--device", "tpu"]) == 2
    assert "unknown device 'tpu'; valid: auto, cpu, cuda, cuda:N" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    assert JobOptions(device="cuda:1").device == "cuda:1"
