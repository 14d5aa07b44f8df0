"""Read a file written by ``torch.save`` that holds plain data only, fast and without trusting it.

The official NAS-Bench-201 files (``NAS-Bench-201-v1_0-e61699.pth``, ``-v1_1-096897.pth``) are ``torch.save``
pickles of nested dicts, lists and numbers: no tensors. ``torch.load`` reads them safely only through its
pure-Python ``weights_only`` unpickler (an hour or more for the 4.7 GB file); its native path is fast but builds
any class the file names. `load_plain` runs Python's C unpickler with a `find_class` that admits only the few
classes the official format uses (`ALLOWED`) and refuses every other one by name, so nothing else is ever
instantiated from the file. It pauses the cyclic garbage collector while the hundreds of millions of objects of a
full file are built: nothing in freshly unpickled plain data is garbage, and each collection would walk the whole
growing graph again.

Both layouts of ``torch.save`` are read: the legacy one (torch < 1.6, the 2020 files: magic number, protocol,
system info, then the object) and the zip one (``*/data.pkl``). A file that does hold tensors raises `HoldsTensors`
(a caller may fall back to ``torch.load(weights_only=True)``).

`read_plain` reads the object of a legacy file with `bench.importers.stream_pickle` instead, which resolves classes
through the same `allowed_object` and reads the per-epoch records as arrays (about half the official loader's time
and an eighth to a tenth of its memory, ``python -m runners.perf.pth_import``); where that reader gives up (an opcode or
a layout it does not read fast), the C unpickler reads the object from its first byte, and the reader's name says
so.
"""

from __future__ import annotations

import collections
import gc
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: The magic number and protocol version a legacy ``torch.save`` file starts with.
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_PROTOCOL = 1001
#: How a legacy ``torch.save`` file begins: its magic number pickled with protocol 2.
_LEGACY_HEAD = pickle.dumps(TORCH_MAGIC, protocol=2)


def _numpy_dtypes() -> dict[tuple[str, str], Any]:
    """numpy's dtype classes of plain numbers, as pickles written by numpy 1.x and 2.x name them."""
    out: dict[tuple[str, str], Any] = {}
    for code in ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1"):
        cls = type(np.dtype(code))
        out[("numpy.dtypes", cls.__name__)] = cls
    return out


def _bytes_from_latin1(text: str, encoding: str) -> bytes:
    """How protocol-2 pickles carry bytes (``_codecs.encode(text, 'latin1')``), with no other codec reachable."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refuses _codecs.encode with encoding {encoding!r}: only latin1 carries bytes")
    return text.encode("latin1")


#: (module, name) -> the object a pickle may name; anything else is refused. Dicts, lists, tuples, strings and
#: numbers need no class at all; the official files add ordered dicts, sets and bytes (protocol 2 pickles them by
#: name) and numpy scalars left by the original scripts.
ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    # Python 3 pickles of protocol 2 (torch.save's) name builtins by their Python 2 module: the official script
    # saves ``evaluated_indexes`` as a set, written ``__builtin__ set``.
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("_codecs", "encode"): _bytes_from_latin1,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
    **_numpy_dtypes(),
}


#: How torch pickles name a tensor; met in a file, they mean "weights inside", not "attack" (`HoldsTensors`).
_TENSOR_REBUILDERS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter")


class HoldsTensors(pickle.UnpicklingError):
    """The file holds tensors (storages), which this reader does not rebuild."""


def allowed_object(module: str, name: str, source: str) -> Any:
    """What a pickle's ``module.name`` resolves to: the `ALLOWED` object, or a refusal naming it and ``source``."""
    try:
        return ALLOWED[(module, name)]
    except (KeyError, TypeError):
        if str(module).split(".")[0] == "torch" and (name in _TENSOR_REBUILDERS or str(name).endswith("Storage")):
            raise HoldsTensors(f"{source} holds tensors ({module}.{name})") from None
        raise pickle.UnpicklingError(
            f"{source}: refuses to build {module}.{name} from the file: not a class of the official "
            f"format (allowed: {', '.join(sorted(f'{m}.{n}' for m, n in ALLOWED))})") from None


class _Restricted(pickle.Unpickler):
    """The C unpickler; only `ALLOWED` names resolve, and persistent ids (tensor storages) stop the read."""

    def __init__(self, fh: BinaryIO, source: str) -> None:
        super().__init__(fh)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        return allowed_object(module, name, self._source)

    def persistent_load(self, pid: Any) -> Any:
        raise HoldsTensors(f"{self._source} holds tensors (persistent id {pid!r:.60})")


def _load(fh: BinaryIO, source: str) -> Any:
    return _Restricted(fh, source).load()


class collector_paused:
    """Pause the cyclic garbage collector (reference counting still frees memory) and restore its state: while a
    graph of plain data is built or read, each collection would only walk it again and find nothing."""

    def __enter__(self) -> None:
        self._was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._was:
            gc.enable()


#: How `read_plain` read a file's object: the fast reader, or the C unpickler (and why, when the fast one gave up).
FAST_READER = "restricted stream reader (bench.importers.stream_pickle: per-epoch records as arrays)"
C_READER = "restricted C unpickler (bench.importers.safe_pickle)"


def load_plain(path: str | os.PathLike) -> Any:
    """The object a ``torch.save`` file of plain data holds (legacy or zip layout), built by the restricted C
    unpickler. Raises `pickle.UnpicklingError` (or `HoldsTensors`) naming the file for anything else."""
    return read_plain(path, fast=False)[0]


def read_plain(path: str | os.PathLike, *, fast: bool = True) -> tuple[Any, str]:
    """`load_plain`, and which reader read the object. With ``fast``, the object is read by
    `bench.importers.stream_pickle` (per-epoch records become `Record` s: a fraction of the time and memory); a file
    that reader does not read fast goes to the restricted C unpickler from the object's first byte."""
    path = Path(path)
    source = str(path)
    with open(path, "rb", buffering=1 << 20) as raw, collector_paused():
        head = raw.read(len(_LEGACY_HEAD))
        raw.seek(0)
        if head[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(raw) as archive:
                names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
                if len(names) != 1:
                    raise pickle.UnpicklingError(f"{source} is a zip archive without one data.pkl: not torch.save's")
                with archive.open(names[0]) as fh:  # a member, not a file the stream reader could map
                    obj = _load(io.BufferedReader(fh, buffer_size=1 << 20), source)
                    return obj, C_READER + (" (torch's zip layout)" if fast else "")
        if head != _LEGACY_HEAD:  # checked before unpickling: random bytes could ask for any amount of memory
            raise pickle.UnpicklingError(f"{source} is not a torch.save file (neither its legacy nor its zip layout)")
        fh = raw
        if _load(fh, source) != TORCH_MAGIC:
            raise pickle.UnpicklingError(f"{source} does not start with torch.save's magic number")
        if _load(fh, source) != TORCH_PROTOCOL:
            raise pickle.UnpicklingError(f"{source}: unknown torch.save protocol")
        _load(fh, source)  # system info (byte order, type sizes): plain numbers need none of it
        obj = _object(fh, source, fast)
        if _load(fh, source):
            raise HoldsTensors(f"{source} holds tensor storages")
        return obj


def _object(fh: BinaryIO, source: str, fast: bool) -> tuple[Any, str]:
    """The pickle at ``fh``'s position: by the fast reader where it can, else by the C unpickler."""
    if fast:
        from bench.importers import stream_pickle  # it builds on this module's ALLOWED

        start = fh.tell()
        try:
            return stream_pickle.load(fh, source), FAST_READER
        except stream_pickle.NotFast as exc:
            fh.seek(start)
            return _load(fh, source), f"{C_READER}; the fast reader gave up: {exc}"
    return _load(fh, source), C_READER


__all__ = ["ALLOWED", "C_READER", "FAST_READER", "TORCH_MAGIC", "TORCH_PROTOCOL", "HoldsTensors", "allowed_object",
           "collector_paused", "load_plain", "read_plain"]
