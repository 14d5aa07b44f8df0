"""What the user API returns where the official packages return a dict: the official keys that have figures here.

A key whose figure the loaded source lacks is left out of the dict (so it never holds a made-up value) and listed
in ``missing`` with the reason; indexing it raises `AbsentFigureError`, which says which figure, from which
source, which file has it and which documented substitute would stand in. A figure that was counted or derived
rather than read (FLOPs counted by ``supernet.flops``, the whole-test-set accuracy of two equal halves) is listed
in ``computed`` with how; the substitutes an answer relied on are in ``substitutes``.
"""

from __future__ import annotations

from typing import Any

from bench.substitutes import MissingFigureError


class AbsentFigureError(MissingFigureError, KeyError):
    """A key of an API answer whose figure the loaded source does not have (also a KeyError, like a dict's)."""

    def __init__(self, key: str, reason: str) -> None:
        Exception.__init__(self, f"{key!r}: {reason}")


class Answer(dict):
    """An official-style answer: a dict of the keys that have figures, plus ``missing``, ``computed`` and
    ``substitutes`` (see the module's docstring). ``dict.get`` keeps its meaning: a default the caller chose."""

    def __init__(self, values: dict[str, Any], missing: dict[str, str] | None = None,
                 computed: dict[str, str] | None = None, substitutes: tuple[str, ...] = ()) -> None:
        super().__init__(values)
        self.missing = dict(missing or {})
        self.computed = dict(computed or {})
        self.substitutes = tuple(substitutes)

    def __missing__(self, key: str) -> Any:
        if key in self.missing:
            raise AbsentFigureError(key, self.missing[key])
        raise KeyError(key)


#: The name the first version of this API gave its answers.
MoreInfo = Answer

__all__ = ["AbsentFigureError", "Answer", "MoreInfo"]
