"""A live progress table for many-task drivers (searcher batches, benchmark builds), drawn with rich on stderr.

One row a group (an algorithm, or a schedule and setting of a build): how many tasks ended in each status, how many
are running, the rate and the time left. It only displays what the driver tells it; it keeps no results.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

#: The statuses a searcher batch reports; a build adds ``stopped`` (left resumable on purpose).
STATUSES = ("finished", "failed", "skipped")


class ProgressView:
    """Counts per group and status, running tasks, rate and time left; a no-op when not ``enabled``."""

    def __init__(self, totals: Mapping[str, int], *, title: str = "runs", group: str = "algorithm",
                 statuses: Sequence[str] = STATUSES, enabled: bool = True) -> None:
        self.totals = Counter(totals)
        self.title = title
        self.group = group
        self.statuses = tuple(statuses)
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.run_counts: Counter = Counter()
        self.enabled = enabled and sum(self.totals.values()) > 0
        self.t0 = time.perf_counter()
        self._live: Any = None

    def __enter__(self) -> ProgressView:
        self.t0 = time.perf_counter()
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(stderr=True), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)
            self._live.console.print()
            self._live = None

    def update(self, group: str, status: str) -> None:
        if status not in self.statuses:
            raise ValueError(f"unknown status {status!r}; valid: {', '.join(self.statuses)}")
        self.counts[group][status] += 1
        self._refresh()

    def running(self, group: str, delta: int) -> None:
        self.run_counts[group] += delta
        self._refresh()

    def set_running(self, counts: Mapping[str, int]) -> None:
        self.run_counts = Counter(counts)
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich import box
        from rich.table import Table

        elapsed = time.perf_counter() - self.t0
        # A light box: the table fits 80 columns (a log file, a narrow terminal) with a build's longer group names.
        t = Table(title=f"{self.title} ({elapsed:.0f} s)", title_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1), pad_edge=False, collapse_padding=True)
        t.add_column(self.group, justify="left", no_wrap=True)
        for col in ("done" if s == "finished" else s for s in self.statuses):
            t.add_column(col, justify="right")
        for col in ("run", "total", "rate", "eta"):
            t.add_column(col, justify="right")
        for name, total in self.totals.items():
            c = self.counts[name]
            ended = sum(c[s] for s in self.statuses if s != "skipped")  # work done in this session
            rate = ended / elapsed if elapsed > 0 else 0.0
            shown = f"{rate:.1f}/s" if rate >= 1 else f"{60 * rate:.1f}/min"
            left = total - sum(c.values())
            eta = f"{left / rate:.0f} s" if rate > 0 and left else ("-" if left else "0 s")
            t.add_row(name, *(str(c[s]) for s in self.statuses), str(self.run_counts[name]), str(total), shown, eta)
        return t


__all__ = ["STATUSES", "ProgressView"]
