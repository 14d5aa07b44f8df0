"""Documented stand-ins for figures a benchmark source lacks.

The oracle never invents a figure on its own: a query for a missing metric raises `MissingFigureError`. A caller
may name substitutes explicitly (``--substitute NAME`` on the command line, ``SUBSTITUTES=`` in make); each one used
is then recorded in every result that depended on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Substitute:
    name: str
    #: What is missing, in words.
    replaces: str
    #: What stands in for it, in words (printed in results and reports).
    description: str


SUBSTITUTES: dict[str, Substitute] = {
    s.name: s
    for s in (
        Substitute(
            "trial-mean",
            "per-trial values (a 'random trial' query)",
            "the trial mean stands in for a randomly drawn trial (the search sees no trial noise)",
        ),
        Substitute(
            "acc200-for-acc12",
            "12-epoch accuracy (the query-only searchers' proxy)",
            "the 200-epoch accuracy of the same split and trial stands in for the 12-epoch accuracy",
        ),
        Substitute(
            "train200-scaled",
            "12-epoch training time",
            "train_seconds@200 x 12/200 stands in for the 12-epoch training time",
        ),
        Substitute(
            "no-eval-time",
            "evaluation time (one pass over the validation data)",
            "no evaluation time is charged; only training time counts towards the budget",
        ),
        Substitute(
            "cifar10-valid-latency",
            "the latency of the network trained on all of CIFAR-10 (dataset cifar10)",
            "the latency measured for cifar10-valid (the same network, 10 classes) stands in for cifar10's",
        ),
        Substitute(
            "final-for-epoch",
            "per-epoch learning curves (accuracy after k < E epochs)",
            "the final accuracy of the schedule stands in for the accuracy after k epochs; "
            "time is charged pro rata (k/E of the schedule)",
        ),
    )
}


def check_substitutes(names: object) -> tuple[str, ...]:
    """Validate names against the catalogue; a bad one raises ValueError listing the valid choices."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    out = []
    for n in names:  # type: ignore[union-attr]
        if n not in SUBSTITUTES:
            raise ValueError(f"unknown substitute {n!r}; valid: {', '.join(SUBSTITUTES)}")
        if n not in out:
            out.append(n)
    return tuple(out)


class MissingFigureError(LookupError):
    """A figure the protocol needs is not in the loaded source."""

    def __init__(self, what: str, source: str, where: str, substitutes: tuple[str, ...] = ()) -> None:
        msg = f"{what} is not in the benchmark source {source}. {where}"
        if substitutes:
            msg += " Or choose a documented substitute explicitly: " + "; ".join(
                f"{s!r} ({SUBSTITUTES[s].description})" for s in substitutes
            ) + "."
        super().__init__(msg)

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])
