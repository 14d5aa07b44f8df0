"""Helpers shared by the tests (not fixtures): killing a search for real, mid-run."""

from __future__ import annotations

import dataclasses
import os
import signal

from algos.base import SearchContext


def run_and_kill(cls, cfg, ctx: SearchContext, kill_at: float) -> int:  # noqa: ANN001
    """Run the search in a forked child that SIGKILLs itself (no cleanup, no flush) once ``kill_at`` epochs are done;
    returns the child's wait status. Forking keeps the already imported modules, so this costs no start-up time."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            def progress(done: float, total: float) -> None:
                if done >= kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

            cls(cfg).search(dataclasses.replace(ctx, progress=progress))
        finally:
            os._exit(3)  # reached only if the kill did not happen
    _, status = os.waitpid(pid, 0)
    return status
