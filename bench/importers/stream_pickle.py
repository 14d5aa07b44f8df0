"""Read a plain-data pickle with its per-epoch records as arrays: the fast reader of the official ``.pth`` files.

An official NAS-Bench-201 file holds about 600 million numbers in per-epoch dicts (``{epoch: value}`` and
``{'x-valid@epoch': value}``, 12 or 200 entries each). Python's C unpickler builds each as a dict of float objects
(most of the official loader's 26 GB and of its time), which an importer then reads back. `load`
is an unpickler written for that shape: it interprets the pickle's opcodes one by one (the few dozen of a trial's
structure), and reads a dict made of runs of ``key, float`` items in a few numpy operations over the raw bytes of the
mapped file, building a `Record` (its keys and a float64 array of its values, bit for bit the floats the C unpickler
would build) instead of a dict. Runs are recognised in three encodings, each checked byte for byte before it is read
(a record may hold several, one after another):

- integer keys (``BININT1 epoch, BINFLOAT value``, fixed stride): the train records;
- new string keys (``BINUNICODE 'split@epoch', LONG_BINPUT, BINFLOAT value``): an evaluation record; the layout of
  such a run (its keys and every byte but the memo indices and the floats) is learned from the first one read item by
  item, and later runs are compared with it whole (`_Layout`);
- keys met before (``LONG_BINGET, BINFLOAT value``, fixed stride): the evaluation records that share the first one's
  key objects (``ResultsCount.update_eval`` does), resolved through the memo ranges the string runs left.

A list of floats (``APPENDS``) is read the same way. Anything else takes the item-by-item path, which builds what
the C unpickler builds. Classes: only those of `bench.importers.safe_pickle.ALLOWED` are resolved, by the
restricted C unpickler's own `allowed_object` (the same refusal, naming the class, otherwise), so nothing else is ever
built from a file; persistent ids raise `HoldsTensors`.

An opcode this reader does not implement, a memo it cannot resolve, or a file whose runs mostly take the
item-by-item path raises `NotFast`: the caller reads the file with the C unpickler instead (the authority on every
other file; `bench.importers.safe_pickle.load_plain`).
"""

from __future__ import annotations

import bisect
import mmap
import pickle
import struct
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from functools import cached_property, lru_cache
from typing import Any, BinaryIO

import numpy as np

from bench.importers.safe_pickle import HoldsTensors, allowed_object

#: Pages of the file read so far are handed back to the system every this many bytes (the file is mapped).
_RELEASE_EVERY = 64 << 20
#: CPython's pickler writes dict and list items in batches of this many: a run shorter than it is the whole record.
_BATCH = 1000
#: After this many items, a file whose items mostly took the item-by-item path is handed to the C unpickler.
_JUDGE_AFTER = 2_000_000
_MAX_SLOW_SHARE = 0.05
#: Layouts of string-keyed runs remembered (per first key, and in all).
_LAYOUTS_PER_KEY = 64
_LAYOUTS = 4096

_U2 = struct.Struct("<H").unpack_from
_U4 = struct.Struct("<I").unpack_from
_I4 = struct.Struct("<i").unpack_from
_F8 = struct.Struct(">d").unpack_from

_BINFLOAT, _BININT1, _LONG_BINGET = pickle.BINFLOAT, pickle.BININT1, pickle.LONG_BINGET
_SETITEMS, _APPENDS, _BINUNICODE = pickle.SETITEMS[0], pickle.APPENDS[0], pickle.BINUNICODE[0]
_BINPUT, _LONG_BINPUT = pickle.BINPUT[0], pickle.LONG_BINPUT[0]


class NotFast(Exception):
    """This reader does not read this file (fast); the C unpickler should."""


class Keys(tuple):
    """The keys of a `Record`, in file order; shared by every record of the same layout, so what is derived from
    them (where each key is, where a split's block of epochs starts) is worked out once."""

    @cached_property
    def position(self) -> dict[Any, int]:
        return {k: i for i, k in enumerate(self)}

    @cached_property
    def is_range(self) -> bool:
        """Keys ``0 .. n-1`` in order (a train record)."""
        return all(k == i and type(k) is int for i, k in enumerate(self))

    def positions(self, keys: tuple[Any, ...]) -> list[int] | None:
        """Where each of ``keys`` is, or None if one is missing."""
        cache = self.__dict__.setdefault("_positions", {})
        if keys not in cache:
            at = [self.position.get(k) for k in keys]
            cache[keys] = None if None in at else at
        return cache[keys]

    def block(self, split: str, epochs: int) -> int | None:
        """Where ``split@0 .. split@E-1`` stand in this order as one block (a split's epochs), or None."""
        cache = self.__dict__.setdefault("_blocks", {})
        at = cache.get((split, epochs), -1)
        if at == -1:
            keys = epoch_keys(split, epochs)
            at = self.position.get(keys[0]) if keys else None
            if at is not None and self[at:at + epochs] != keys:
                at = None
            cache[(split, epochs)] = at
        return at


@lru_cache(maxsize=256)
def epoch_keys(split: str, epochs: int) -> tuple[str, ...]:
    """``('x-valid@0', ..., 'x-valid@E-1')``: the keys of a split's epochs in an evaluation record."""
    return tuple(f"{split}@{e}" for e in range(epochs))


class Record(Mapping):
    """A per-epoch record (a dict of floats in the file) as its keys and a float64 array of its values."""

    __slots__ = ("keys_", "values_")

    def __init__(self, keys: Keys, values: np.ndarray) -> None:
        self.keys_ = keys
        self.values_ = values

    def __getitem__(self, key: Any) -> float:
        return float(self.values_[self.keys_.position[key]])

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)

    def __repr__(self) -> str:
        return f"Record({len(self)} values)"


def _range_keys(n: int) -> Keys:
    while len(_RANGES) <= n:
        _RANGES.append(Keys(range(len(_RANGES))))
    return _RANGES[n]


_RANGES: list[Keys] = []
_ARANGE_BYTES = bytes(range(256))


class _Layout:
    """The bytes of a run of ``BINUNICODE key, BINPUT, BINFLOAT value`` items, but for memo indices and floats:
    a later run with the same first key is this layout if every other byte is the same."""

    __slots__ = ("keys", "length", "template", "mask", "memo_at", "float_at", "n", "scratch")

    def __init__(self, region: np.ndarray, keys: Keys, memo_at: list[int], memo_width: int, float_at: list[int]):
        self.keys, self.length, self.n = keys, len(region), len(keys)
        self.mask = np.full(self.length, 0xFF, dtype=np.uint8)
        self.memo_at = (np.asarray(memo_at)[:, None] + np.arange(memo_width)).ravel()
        self.float_at = (np.asarray(float_at)[:, None] + np.arange(8)).ravel()
        self.mask[self.memo_at] = 0
        self.mask[self.float_at] = 0
        self.template = (region & self.mask).tobytes()
        self.scratch = np.empty(self.length, dtype=np.uint8)

    def matches(self, region: np.ndarray) -> bool:
        return np.bitwise_and(region, self.mask, out=self.scratch).tobytes() == self.template


class _Reader:
    """One pickle in ``buf`` (a mapped file), read from ``start`` to its STOP."""

    def __init__(self, buf: mmap.mmap | bytes, start: int, source: str) -> None:
        self.buf, self.start, self.source = buf, start, source
        self.memo: dict[int, Any] = {}
        self.ranges: list[tuple[int, Keys]] = []  # memo indices of the keys of string runs, not in `memo`
        self.range_starts: list[int] = []
        self.top = -1  # the highest memo index used
        self.layouts: dict[bytes, list[_Layout]] = {}
        self.layout_count = 0
        self.fast = self.slow = 0  # items read from runs / one by one
        self.last_n: dict[int, int] = {}  # the length of the last run of items of a stride
        self.int_keys: dict[bytes, Keys | None] = {}  # kept keys: records of the same keys share them
        self.slices: dict[tuple[int, int, int], Keys] = {}
        self.joined: dict[tuple[int, ...], Keys | None] = {}
        self.released = start - start % mmap.PAGESIZE
        self.release_at = self.released + _RELEASE_EVERY

    def _release(self, pos: int) -> None:
        """Hand back the pages read so far (the file's, still in the page cache): this process's memory stays that
        of what it built. Judge whether the file is read fast."""
        if self.fast + self.slow > _JUDGE_AFTER and self.slow > _MAX_SLOW_SHARE * (self.fast + self.slow):
            raise NotFast(f"{self.slow:,} of {self.fast + self.slow:,} items are not in runs")
        end = pos - pos % mmap.PAGESIZE
        if isinstance(self.buf, mmap.mmap) and end > self.released:
            self.buf.madvise(mmap.MADV_DONTNEED, self.released, end - self.released)
        self.released = end
        self.release_at = end + _RELEASE_EVERY

    # --- the memo -------------------------------------------------------------------------------------
    def _get(self, i: int) -> Any:
        try:
            return self.memo[i]
        except KeyError:
            found = self._range_at(i)
            if found is None:
                raise NotFast(f"memo entry {i} not found") from None
            start, keys = found
            return keys[i - start]

    def _range_at(self, i: int) -> tuple[int, Keys] | None:
        """The string run (first memo index, keys) whose keys hold memo index ``i``, or None."""
        k = bisect.bisect_right(self.range_starts, i) - 1
        if k < 0:
            return None
        start, keys = self.ranges[k]
        return (start, keys) if i < start + len(keys) else None

    def _undo(self, ranges: int, top: int) -> None:
        """Forget the string runs met since there were ``ranges`` of them (the item by item path reads them again)."""
        del self.ranges[ranges:], self.range_starts[ranges:]
        self.top = top

    # --- runs -------------------------------------------------------------------------------------------
    def _float_list(self, buf: bytes, pos: int) -> tuple[list[float], int] | None:
        """``(BINFLOAT v)* APPENDS`` at pos: the floats and the position after APPENDS."""
        marks = buf[pos:pos + 9 * (_BATCH + 1):9]
        n = len(marks) - len(marks.lstrip(_BINFLOAT))
        end = pos + 9 * n
        if n < 2 or end >= len(buf) or buf[end] != _APPENDS:
            return None
        values = np.ndarray((n,), ">f8", buffer=buf, offset=pos + 1, strides=(9,))
        return values.astype(np.float64).tolist(), end + 1

    def _dict_run(self, buf: bytes, pos: int) -> tuple[Record, int] | None:
        """``(key, BINFLOAT value)* SETITEMS`` at pos, as one or more runs (a record some of whose keys were met
        before and some not, say): the record and the position after SETITEMS, or None (nothing is kept)."""
        parts: list[tuple[Keys, np.ndarray]] = []
        ranges, top = len(self.ranges), self.top
        at, total = pos, 0
        while buf[at] != _SETITEMS:
            op = buf[at]
            part = self._int_run(buf, at) if op == 0x4B else self._get_run(buf, at) if op == 0x6A \
                else self._str_run(buf, at) if op == 0x58 else None
            if part is None:
                self._undo(ranges, top)
                return None
            keys, values, at = part
            parts.append((keys, values))
            total += len(keys)
        if len(parts) == 1:
            keys, values = parts[0]
        else:
            keys = self._joined(tuple(k for k, _ in parts))
            values = np.concatenate([v for _, v in parts])
        if keys is None or not 2 <= total < _BATCH:  # a repeated key; a batch that may go on in another
            self._undo(ranges, top)
            return None
        return Record(keys, values), at + 1

    def _count(self, buf: bytes, pos: int, opcode: bytes, stride: int) -> int:
        """How many items of ``stride`` bytes start with ``opcode`` from pos on (the length of the last run of this
        stride is tried first: records come in a few lengths)."""
        n = self.last_n.get(stride, 0)
        if n and buf[pos + stride * n:pos + stride * n + 1] != opcode and buf[pos:pos + stride * n:stride] == opcode * n:
            return n
        marks = buf[pos:pos + stride * _BATCH:stride]
        n = self.last_n[stride] = len(marks) - len(marks.lstrip(opcode))
        return n

    def _int_run(self, buf: bytes, pos: int) -> tuple[Keys, np.ndarray, int] | None:
        """``(BININT1 k, BINFLOAT v)*`` at pos: the keys, the values and the position after them."""
        if buf[pos + 2] != _BINFLOAT[0]:
            return None
        n = self._count(buf, pos, _BININT1, 11)
        end = pos + 11 * n
        if buf[pos + 2:end:11] != _BINFLOAT * n:
            return None
        keys = buf[pos + 1:end:11]
        ordered = _range_keys(n) if keys == _ARANGE_BYTES[:n] else self._int_keys(keys)
        if ordered is None:
            return None
        return ordered, np.ndarray((n,), ">f8", buffer=buf, offset=pos + 3, strides=(11,)).astype(np.float64), end

    def _int_keys(self, keys: bytes) -> Keys | None:
        """Integer keys other than ``0 .. n-1`` (kept: records with the same gaps share them); None if one repeats
        (the dict keeps the last value at the first place)."""
        if keys not in self.int_keys:
            self.int_keys[keys] = Keys(keys) if len(set(keys)) == len(keys) else None
        return self.int_keys[keys]

    def _get_run(self, buf: bytes, pos: int) -> tuple[Keys, np.ndarray, int] | None:
        """``(LONG_BINGET i, BINFLOAT v)*`` at pos, consecutive i: keys of one string run met before."""
        if buf[pos + 5] != _BINFLOAT[0]:
            return None  # a dict of other values (its keys met before: a ResultsCount's own fields, say)
        n = self._count(buf, pos, _LONG_BINGET, 14)
        first = _U4(buf, pos + 1)[0]
        # `_range_at` written out: this runs once a record of a full file (millions), where the call costs 4%
        k = bisect.bisect_right(self.range_starts, first) - 1
        if k < 0:
            return None
        start, keys = self.ranges[k]  # BINPUT refuses the indices of ranges: the memo dict has none of them
        offset = first - start
        n = min(n, len(keys) - offset)  # the rest of the items, if any, are the keys of another run
        end = pos + 14 * n
        if n <= 0 or buf[pos + 5:end:14] != _BINFLOAT * n or \
                np.ndarray((n,), "<u4", buffer=buf, offset=pos + 1, strides=(14,)).tobytes() != \
                np.arange(first, first + n, dtype="<u4").tobytes():
            return None
        if offset or n != len(keys):
            keys = self._slice(keys, offset, n)
        return keys, np.ndarray((n,), ">f8", buffer=buf, offset=pos + 6, strides=(14,)).astype(np.float64), end

    def _slice(self, keys: Keys, offset: int, n: int) -> Keys:
        key = (id(keys), offset, n)  # `keys` lives as long as the reader (in `ranges`)
        if key not in self.slices:
            self.slices[key] = Keys(keys[offset:offset + n])
        return self.slices[key]

    def _joined(self, parts: tuple[Keys, ...]) -> Keys | None:
        """The keys of a record read as several runs (each part lives as long as the reader); None if one repeats."""
        key = tuple(map(id, parts))
        if key not in self.joined:
            keys = Keys(k for part in parts for k in part)
            self.joined[key] = keys if len(set(keys)) == len(keys) else None
        return self.joined[key]

    def _str_run(self, buf: bytes, pos: int) -> tuple[Keys, np.ndarray, int] | None:
        """``(BINUNICODE key, BINPUT/LONG_BINPUT i, BINFLOAT v)*`` at pos, new keys at consecutive memo indices after
        every index used so far: compared whole with a layout seen before (one that ends the record first), or read
        and learned."""
        size = _U4(buf, pos + 1)[0]
        first = buf[pos:pos + 6 + size]  # the first key and its memo opcode
        known = self.layouts.get(first, ())
        for ends in (True, False):
            for layout in known:
                end = pos + layout.length
                if end >= len(buf) or (buf[end] != _SETITEMS if ends else buf[end] in (_SETITEMS, _BINUNICODE)):
                    continue  # first a layout that ends the record, else one after which other keys follow
                region = np.frombuffer(buf, np.uint8, count=layout.length, offset=pos)
                if not layout.matches(region):
                    continue
                memo = region[layout.memo_at]
                wide = len(layout.memo_at) == 4 * layout.n  # LONG_BINPUT, else BINPUT (indices below 256)
                index = int(memo.view("<u4")[0]) if wide else int(memo[0])
                if index <= self.top or (not wide and index + layout.n > 256) or memo.tobytes() != np.arange(
                        index, index + layout.n, dtype="<u4" if wide else np.uint8).tobytes():
                    return None
                self._keys_put(layout.keys, index)
                return layout.keys, region[layout.float_at].view(">f8").astype(np.float64), end
        return self._learn(buf, pos, first)

    def _learn(self, buf: bytes, pos: int, first: bytes) -> tuple[Keys, np.ndarray, int] | None:
        """Read a string run item by item; remember its layout for the next ones."""
        keys, memo_at, float_at, index = [], [], [], []
        at = pos
        width = 4 if buf[pos + 5 + _U4(buf, pos + 1)[0]] == _LONG_BINPUT else 1
        while buf[at] == _BINUNICODE and len(keys) < _BATCH:
            size = _U4(buf, at + 1)[0]
            at += 5 + size
            if at + 2 + width + 8 >= len(buf):
                return None
            keys.append(buf[at - size:at].decode("utf-8", "surrogatepass"))
            if width == 4 and buf[at] == _LONG_BINPUT:
                index.append(_U4(buf, at + 1)[0])
            elif width == 1 and buf[at] == _BINPUT:
                index.append(buf[at + 1])
            else:
                return None
            memo_at.append(at + 1 - pos)
            at += 1 + width
            if buf[at] != _BINFLOAT[0]:
                return None
            float_at.append(at + 1 - pos)
            at += 9
        n = len(keys)
        if len(set(keys)) != n or index[0] <= self.top or index != list(range(index[0], index[0] + n)):
            return None
        region = np.frombuffer(buf, np.uint8, count=at - pos, offset=pos)
        layout = _Layout(region, Keys(keys), memo_at, width, float_at)
        known = self.layouts.setdefault(first, [])
        if len(known) < _LAYOUTS_PER_KEY and self.layout_count < _LAYOUTS:
            known.append(layout)
            known.sort(key=lambda lay: -lay.length)  # the longest first: a shorter one may match its beginning
            self.layout_count += 1
        self._keys_put(layout.keys, index[0])
        return layout.keys, region[layout.float_at].view(">f8").astype(np.float64), at

    def _keys_put(self, keys: Keys, first: int) -> None:
        """The keys of a string run stay reachable at their memo indices."""
        self.ranges.append((first, keys))
        self.range_starts.append(first)
        self.top = first + len(keys) - 1

    # --- the interpreter -------------------------------------------------------------------------------
    def load(self) -> tuple[Any, int]:
        """The object, and the position after its STOP."""
        buf, pos = self.buf, self.start
        stack: list[Any] = []
        marks: list[int] = []
        push = stack.append
        memo = self.memo
        last_put: Any = None  # the object the last BINPUT memoised, and where
        last_index = -1
        top = self.top  # the highest memo index used (`self.top` while a run is read)
        while True:
            op = buf[pos]
            pos += 1
            if op == 0x6A:  # LONG_BINGET
                i = _U4(buf, pos)[0]
                pos += 4
                try:
                    push(memo[i])
                except KeyError:
                    push(self._get(i))
            elif op == 0x72 or op == 0x71:  # LONG_BINPUT, BINPUT
                if op == 0x72:
                    i = _U4(buf, pos)[0]
                    pos += 4
                else:
                    i = buf[pos]
                    pos += 1
                last_put = memo[i] = stack[-1]
                last_index = i
                if i > top:  # a pickler numbers its memo in order; the keys of a run are not in `memo`
                    top = i
                elif self._range_at(i) is not None:
                    raise NotFast(f"memo index {i} reused")
            elif op == 0x47:  # BINFLOAT
                push(_F8(buf, pos)[0])
                pos += 8
            elif op == 0x58:  # BINUNICODE
                size = _U4(buf, pos)[0]
                pos += 4 + size
                if pos > len(buf):
                    raise NotFast("the pickle ends inside a string")
                push(buf[pos - size:pos].decode("utf-8", "surrogatepass"))
            elif op == 0x28:  # MARK: a run of items is read whole where it can be
                if pos > self.release_at:
                    self._release(pos)
                target = stack[-1] if stack else None
                kind = type(target)
                nxt = buf[pos]
                got = None
                # An empty dict just made and memoised, held nowhere else (the stack, the memo, last_put, target and
                # getrefcount's argument: CPython 3.11 counts each): the record may replace it in both places.
                if (kind is dict or kind is OrderedDict) and not target and last_put is target \
                        and sys.getrefcount(target) <= 5:
                    if nxt == 0x4B or nxt == 0x58 or nxt == 0x6A:
                        self.top = top
                        got = self._dict_run(buf, pos)
                        top = self.top
                    if got is not None:
                        record, pos = got
                        stack[-1] = memo[last_index] = last_put = record
                        self.fast += len(record)
                        continue
                elif kind is list and nxt == 0x47:
                    got = self._float_list(buf, pos)
                    if got is not None:
                        values, pos = got
                        target.extend(values)
                        self.fast += len(values)
                        continue
                marks.append(len(stack))
            elif op == 0x75:  # SETITEMS
                items = _pop_mark(stack, marks)
                target = stack[-1]
                if type(target) is dict:
                    target.update(zip(items[::2], items[1::2], strict=True))
                else:
                    for j in range(0, len(items), 2):
                        target[items[j]] = items[j + 1]
                self.slow += len(items) // 2
            elif op == 0x7D:  # EMPTY_DICT
                push({})
            elif op == 0x4B:  # BININT1
                push(buf[pos])
                pos += 1
            elif op == 0x4D:  # BININT2
                push(_U2(buf, pos)[0])
                pos += 2
            elif op == 0x4A:  # BININT
                push(_I4(buf, pos)[0])
                pos += 4
            elif op == 0x4E:  # NONE
                push(None)
            elif op == 0x5D:  # EMPTY_LIST
                push([])
            elif op == 0x29:  # EMPTY_TUPLE
                push(())
            elif op == 0x86:  # TUPLE2
                stack[-2:] = [(stack[-2], stack[-1])]
            elif op == 0x85:  # TUPLE1
                stack[-1] = (stack[-1],)
            elif op == 0x87:  # TUPLE3
                stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
            elif op == 0x74:  # TUPLE
                push(tuple(_pop_mark(stack, marks)))
            elif op == 0x73:  # SETITEM
                value = stack.pop()
                key = stack.pop()
                stack[-1][key] = value
                self.slow += 1
            elif op == 0x61:  # APPEND
                value = stack.pop()
                stack[-1].append(value)
                self.slow += 1
            elif op == 0x65:  # APPENDS
                items = _pop_mark(stack, marks)
                stack[-1].extend(items)
                self.slow += len(items)
            elif op == 0x88:  # NEWTRUE
                push(True)
            elif op == 0x89:  # NEWFALSE
                push(False)
            elif op == 0x8A:  # LONG1
                n = buf[pos]
                push(int.from_bytes(buf[pos + 1:pos + 1 + n], "little", signed=True))
                pos += 1 + n
            elif op == 0x68:  # BINGET
                i = buf[pos]
                pos += 1
                push(memo[i] if i in memo else self._get(i))
            elif op == 0x8C:  # SHORT_BINUNICODE
                n = buf[pos]
                push(buf[pos + 1:pos + 1 + n].decode("utf-8", "surrogatepass"))
                pos += 1 + n
            elif op == 0x94:  # MEMOIZE (protocol 4, whose strings this reader does not read as runs)
                if self.ranges:
                    raise NotFast("MEMOIZE after memo ranges")
                i = len(memo)
                last_put, last_index = stack[-1], i
                memo[i] = last_put
                top = max(top, i)
            elif op == 0x43:  # SHORT_BINBYTES
                n = buf[pos]
                push(bytes(buf[pos + 1:pos + 1 + n]))
                pos += 1 + n
            elif op == 0x42:  # BINBYTES
                size = _U4(buf, pos)[0]
                pos += 4 + size
                if pos > len(buf):
                    raise NotFast("the pickle ends inside bytes")
                push(bytes(buf[pos - size:pos]))
            elif op == 0x63:  # GLOBAL
                end = buf.find(b"\n", pos, pos + 256)
                middle = buf.find(b"\n", end + 1, end + 257)
                if end < 0 or middle < 0:
                    raise NotFast("GLOBAL without its two lines")
                module, name = buf[pos:end].decode("utf-8"), buf[end + 1:middle].decode("utf-8")
                pos = middle + 1
                push(allowed_object(module, name, self.source))
            elif op == 0x93:  # STACK_GLOBAL
                name = stack.pop()
                module = stack.pop()
                push(allowed_object(module, name, self.source))
            elif op == 0x52:  # REDUCE
                args = stack.pop()
                stack[-1] = stack[-1](*args)
            elif op == 0x81:  # NEWOBJ
                args = stack.pop()
                cls = stack[-1]
                if not isinstance(cls, type):
                    raise NotFast(f"NEWOBJ of {cls!r}")
                stack[-1] = cls.__new__(cls, *args)
            elif op == 0x62:  # BUILD
                state = stack.pop()
                setstate = getattr(stack[-1], "__setstate__", None)
                if setstate is None:
                    raise NotFast(f"BUILD of a {type(stack[-1]).__name__}")
                setstate(state)
            elif op == 0x8F:  # EMPTY_SET
                push(set())
            elif op == 0x90:  # ADDITEMS
                items = _pop_mark(stack, marks)
                stack[-1].update(items)
            elif op == 0x91:  # FROZENSET
                push(frozenset(_pop_mark(stack, marks)))
            elif op == 0x80:  # PROTO
                pos += 1
            elif op == 0x95:  # FRAME: the map holds the whole file
                pos += 8
            elif op == 0x2E:  # STOP
                if marks or len(stack) != 1:
                    raise NotFast("the pickle stops with more than one object on its stack")
                return stack[0], pos
            elif op == 0x51 or op == 0x50:  # BINPERSID, PERSID: tensor storages
                raise HoldsTensors(f"{self.source} holds tensors (persistent ids)")
            else:
                raise NotFast(f"opcode {bytes([op])!r} at byte {pos - 1}")


def _pop_mark(stack: list[Any], marks: list[int]) -> list[Any]:
    """The items pushed since the last MARK, taken off the stack."""
    at = marks.pop()
    items = stack[at:]
    del stack[at:]
    return items


def load(fh: BinaryIO, source: str) -> Any:
    """The object of the pickle at ``fh``'s position (a file on disk, which is mapped), per-epoch runs read as
    `Record` s; the file is left after it. Raises `NotFast` where the C unpickler should read the file,
    `HoldsTensors` for tensors, and `pickle.UnpicklingError` naming ``source`` for a class outside `ALLOWED`."""
    try:
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError) as exc:  # a zip member, a pipe: read by the C unpickler
        raise NotFast(f"the file cannot be mapped ({exc})") from exc
    # The map is closed when the last view of it is gone (a traceback may still hold one while an error is raised).
    try:
        obj, end = _Reader(buf, fh.tell(), source).load()
    except (IndexError, KeyError, ValueError, TypeError, AttributeError, struct.error, EOFError) as exc:
        raise NotFast(f"{type(exc).__name__}: {exc}") from exc
    fh.seek(end)
    return obj


__all__ = ["Keys", "NotFast", "Record", "epoch_keys", "load"]
