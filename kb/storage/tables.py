"""Tables on disk that are read lazily through memory maps: rows of JSON lines, and sorted keys with postings.

* A **row file** is `<name>.jsonl` (one JSON object a line) with `<name>.off.npy` (int64 byte offsets, rows + 1):
  row i is decoded only when it is asked for, so opening a table of 100k sections costs two memory maps.
* A **key table** is a sorted list of unique UTF-8 keys (`<name>.keys` + `<name>.keys.off.npy`) with a CSR list of
  postings per key (`<name>.ptr.npy`, `<name>.doc.npy` and optionally `<name>.val.npy`): key i's postings are
  doc[ptr[i]:ptr[i+1]]. A key is found by binary search over the mapped keys (about 20 comparisons), never by
  reading them all. kb uses it for the keyword vocabulary (postings: entry, term frequency) and for exact resource
  names (postings: section rows).

Both are written once and never changed, so a later build can hard-link them.
"""

from __future__ import annotations

import json
import mmap
import os
import zlib
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kb.core import safeio
from kb.core.errors import IndexCorrupt
from kb.storage import store
from kb.storage.store import REBUILD


def _rebuild_hint(path: Path) -> str:
    return f"index file {path.parent.name}/{path.name} is damaged; rebuild with: {REBUILD} --full"


def map_bytes(path: Path):
    """A read-only memory map of a file (b"" when it is empty: mmap refuses zero-length files)."""
    with safeio.open_file(path) as f:                 # a regular file only: never a FIFO or device
        if f.seek(0, 2) == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def advise_random(mapped) -> None:
    """Tell the kernel a mapping is read at random (a few rows per query), so a page missing from the page cache is
    read alone, without read-ahead. (Pages already cached are still mapped 16 at a time by the kernel's
    fault-around: at 100k sections 40 hybrid queries leave ~290 MB of the 307 MB vectors in a process's RSS, as
    file-backed, reclaimable pages.) A numpy memmap or an mmap; no-op where unsupported."""
    mm = mapped
    while isinstance(mm, np.ndarray):                     # a plain view of a memmap: find the memmap
        mm = getattr(mm, "_mmap", None) or mm.base
    if isinstance(mm, mmap.mmap) and hasattr(mmap, "MADV_RANDOM"):
        try:
            mm.madvise(mmap.MADV_RANDOM)
        except OSError:
            pass


def load_array(path: Path, mmap_mode: str | None = "r") -> np.ndarray:
    """A saved .npy array, memory-mapped by default (as a plain ndarray over the map); IndexCorrupt (one line) when
    it is not an array."""
    try:
        a = safeio.load_npy(path, mmap=mmap_mode is not None)
        # a plain ndarray view of the map: numpy's memmap subclass costs ~2 µs a scalar read in Python
        return a.view(np.ndarray) if isinstance(a, np.memmap) else a
    except (safeio.NotRegularFile, safeio.FileTooLarge) as err:
        raise store.unreadable(path, err) from None
    except (ValueError, OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise IndexCorrupt(_rebuild_hint(path)) from None


def save_array(path: Path, a: np.ndarray) -> None:
    """Write a new .npy file (kb.core.safeio.create_new: never through a symlink, never over an existing file)."""
    with safeio.create_new(path) as f:
        np.save(f, np.ascontiguousarray(a))


def save_runs(path: Path, runs: Sequence[np.ndarray], dtype, row_shape: tuple[int, ...]) -> None:
    """Write the runs (arrays of rows of `row_shape`) as one new .npy file of `dtype`, one run at a time: the same file
    as save_array of their concatenation, without holding it."""
    dtype = np.dtype(dtype)
    n = sum(len(r) for r in runs)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n, *row_shape)}
    with safeio.create_new(path) as f:
        np.lib.format.write_array_header_1_0(f, header)
        for r in runs:
            r = np.ascontiguousarray(r, dtype=dtype)
            if r.shape[1:] != row_shape:
                raise ValueError(f"{path.name}: a run of shape {r.shape} among rows of {row_shape}")
            if r.size:
                f.write(memoryview(r).cast("B"))


class RowReader:
    """Rows of a 2-D .npy file read with pread, never mapped: the pages stay in the shared page cache and the
    process holds only the rows it asked for. Why not the memory map: a query reads ~600 scattered vector rows, and
    on this kernel (6.18, ext4 with large page-cache folios) each fault on a mapping maps a whole folio of cached
    neighbours — 600 rows mapped 264 MB of the 307 MB vectors.npy at 100k sections, whatever MADV_RANDOM or
    MADV_NOHUGEPAGE say, so `python -m kb.search` peaked at 784 MB; dropping the pages after each query
    (MADV_DONTNEED) still left that peak inside the query. pread costs ~3.6 ms a query at 600 rows, so kb.storage.segment
    uses it only for files large enough for their mapped pages to matter (PREAD_MIN_BYTES)."""

    RUN_READ_ROWS = 4096      # past this many rows, runs of nearby rows are read at once

    def __init__(self, path: Path):
        f = safeio.open_file(path)
        try:
            shape, fortran, dtype, offset = safeio.npy_layout(f, path)
        except Exception:
            f.close()
            raise
        if len(shape) != 2 or fortran:
            f.close()
            raise ValueError(f"{path.name}: not a C-ordered 2-D array")
        self._f = f                       # kept open: a rebuild may remove the path, the rows stay readable
        self.shape, self.dtype, self._offset = (int(shape[0]), int(shape[1])), dtype, offset
        self._row_bytes = int(shape[1]) * dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, a: int, b: int) -> np.ndarray:
        n = (b - a) * self._row_bytes
        buf = os.pread(self._f.fileno(), n, self._offset + a * self._row_bytes)
        if len(buf) != n:
            raise IndexCorrupt(f"index file {self._f.name} is truncated; rebuild with: {REBUILD} --full")
        return np.frombuffer(buf, dtype=self.dtype).reshape(b - a, self.shape[1])

    def run(self, a: int, b: int) -> np.ndarray:
        """Rows a..b-1."""
        return self._read(a, b) if b > a else np.zeros((0, self.shape[1]), dtype=self.dtype)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows, in the given order: one preadv a row straight into the result, in ascending file order
        (~6 µs a row, Python's loop included: 600 rows cost ~3.6 ms)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        if not len(rows):
            return out
        if int(rows.min()) < 0 or int(rows.max()) >= self.shape[0]:
            raise IndexError("row out of range")
        order = np.argsort(rows, kind="stable")
        if len(rows) > self.RUN_READ_ROWS:                      # many rows (a whole table): one read per run
            srt = rows[order]
            for part in np.split(np.arange(len(srt)), np.flatnonzero(np.diff(srt) > 4) + 1):
                a, b = int(srt[part[0]]), int(srt[part[-1]]) + 1
                out[order[part]] = self._read(a, b)[srt[part] - a]
            return out
        got = np.empty_like(out)
        view, rb, fd = memoryview(got).cast("B"), self._row_bytes, self._f.fileno()
        for j, pos in enumerate((self._offset + rows[order] * rb).tolist()):
            if os.preadv(fd, [view[j * rb:(j + 1) * rb]], pos) != rb:
                raise IndexCorrupt(f"index file {self._f.name} is truncated; rebuild with: {REBUILD} --full")
        out[order] = got
        return out


# ---- rows ---------------------------------------------------------------------------------------------------------

def write_rows(path: Path, pieces: Iterable) -> None:
    """Write rows to `path` and their byte offsets to its .off.npy. Each piece is a list of rows (bytes: one JSON
    object without a newline) or (RowFile, row numbers) to copy as they are on disk."""
    lengths: list[int] = []
    with safeio.create_new(path) as f:
        for piece in pieces:
            if isinstance(piece, tuple):
                lengths.extend(copy_rows(f, piece[0], piece[1]))
            else:
                for line in piece:
                    f.write(line)
                    f.write(b"\n")
                    lengths.append(len(line) + 1)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    if lengths:
        np.cumsum(lengths, out=offsets[1:])
    save_array(off_path(path), offsets)


def off_path(path: Path) -> Path:
    return path.with_name(path.name.rsplit(".", 1)[0] + ".off.npy")


def compress_row(line: bytes) -> bytes:
    """A row for a compressed row file: zlib at level 9. A section's row holds its text twice (plain and as
    markdown) and compresses to ~45% on its own, with no shared dictionary, so rows copy between files as they are."""
    return zlib.compress(line, 9)


def json_line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class RowFile:
    """A written row file, mapped: len(), the raw bytes of a row or a run of rows, a decoded row. `compressed`: each
    row is stored zlib-compressed (write_rows' rows then hold compressed bytes; see compress_row)."""

    def __init__(self, path: Path, compressed: bool = False):
        self.path = path
        self.compressed = compressed
        self.data = map_bytes(path)
        self.offsets = load_array(off_path(path))
        if (self.offsets.ndim != 1 or len(self.offsets) < 1 or int(self.offsets[0]) != 0
                or int(self.offsets[-1]) != len(self.data)):
            raise IndexCorrupt(_rebuild_hint(path))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self.data[int(self.offsets[i]):int(self.offsets[i + 1]) - 1]

    def raw_run(self, start: int, stop: int) -> bytes:
        """Rows start..stop-1 as they are on disk (newlines included)."""
        return self.data[int(self.offsets[start]):int(self.offsets[stop])]

    def get(self, i: int) -> dict:
        try:
            obj = json.loads(zlib.decompress(self.raw(i)) if self.compressed else self.raw(i))
        except (ValueError, UnicodeDecodeError, zlib.error):
            raise IndexCorrupt(_rebuild_hint(self.path)) from None
        if not isinstance(obj, dict):
            raise IndexCorrupt(_rebuild_hint(self.path))
        return obj


def copy_rows(out, source: RowFile, rows: np.ndarray) -> list[int]:
    """Append rows of `source` (raw bytes, runs of consecutive rows copied at once) to the open file `out`;
    returns each copied row's length in bytes (newline included)."""
    lengths: list[int] = []
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return lengths
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    for run in np.split(rows, breaks):
        a, b = int(run[0]), int(run[-1]) + 1
        out.write(source.raw_run(a, b))
        lengths.extend(np.diff(source.offsets[a:b + 1]).tolist())
    return lengths


# ---- sorted keys with postings ------------------------------------------------------------------------------------

class KeyTable:
    """Sorted unique keys, each with postings (doc ids, and values when the table has them)."""

    def __init__(self, folder: Path, name: str, values: bool):
        self.path = folder / f"{name}.keys"
        self.keys = map_bytes(self.path)
        self.key_off = load_array(folder / f"{name}.keys.off.npy")
        self.ptr = load_array(folder / f"{name}.ptr.npy")
        self.doc = load_array(folder / f"{name}.doc.npy")
        self.val = load_array(folder / f"{name}.val.npy") if values else None
        n = len(self.key_off) - 1
        if (n < 0 or len(self.ptr) != n + 1 or int(self.key_off[-1]) != len(self.keys)
                or (n >= 0 and int(self.ptr[-1]) != len(self.doc))
                or (self.val is not None and len(self.val) != len(self.doc))):
            raise IndexCorrupt(_rebuild_hint(self.path))

    def __len__(self) -> int:
        return len(self.key_off) - 1

    def key(self, i: int) -> bytes:
        return self.keys[int(self.key_off[i]):int(self.key_off[i + 1])]

    def all_keys(self) -> list[str]:
        off = self.key_off.tolist()
        data = bytes(self.keys)
        return [data[off[i]:off[i + 1]].decode("utf-8") for i in range(len(off) - 1)]

    def find(self, key: str) -> int:
        """The index of `key`, or -1."""
        k = key.encode("utf-8")
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.key(mid) < k:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(self) and self.key(lo) == k else -1

    def postings(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        a, b = int(self.ptr[i]), int(self.ptr[i + 1])
        return self.doc[a:b], (self.val[a:b] if self.val is not None else None)

    def coo(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None]:
        """(keys, key index of every posting, docs, values): the whole table as a flat list."""
        keys = self.all_keys()
        ptr = np.asarray(self.ptr, dtype=np.int64)
        kid = np.repeat(np.arange(len(keys), dtype=np.int64), np.diff(ptr))
        return keys, kid, np.asarray(self.doc), None if self.val is None else np.asarray(self.val)


def _write_keys(folder: Path, name: str, keys: Sequence[str]) -> None:
    blob = [k.encode("utf-8") for k in keys]
    off = np.zeros(len(blob) + 1, dtype=np.int64)
    if blob:
        np.cumsum([len(b) for b in blob], out=off[1:])
    with safeio.create_new(folder / f"{name}.keys") as f:
        f.write(b"".join(blob))
    save_array(folder / f"{name}.keys.off.npy", off)


def write_postings(folder: Path, name: str, parts: list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None]],
                   values: bool, doc_dtype=np.int32, val_dtype=None) -> None:
    """Write a key table from parts, each (keys, key index per posting, doc per posting, value per posting).
    Postings with doc < 0 are dropped (rows that do not go into the new table); keys left without postings are
    dropped; within a key, postings are sorted by doc. Docs must be unique per key across the parts. A list of
    parts is emptied as it is read (what it held can be freed before the postings are sorted)."""
    names: dict[str, int] = {}
    kids, docs, vals = [], [], []
    for keys, kid, doc, val in _drain(parts):                  # int32 ids: 8.4M postings at 100k sections
        keep = np.asarray(doc) >= 0
        if not keep.any():
            continue
        local = np.array([names.setdefault(k, len(names)) for k in keys], dtype=np.int32)
        kids.append(local[np.asarray(kid)[keep]])
        docs.append(np.asarray(doc)[keep].astype(np.int32))
        if values:
            vals.append(np.asarray(val)[keep])
    ordered = sorted(names)                                    # str order = UTF-8 byte order
    rank = np.empty(len(names), dtype=np.int32)
    if names:
        rank[[names[k] for k in ordered]] = np.arange(len(ordered))
    kid = rank[_concat(kids, np.int32)]
    doc = _concat(docs, np.int32)
    del kids, docs
    order = _by_key_then_doc(kid, doc)
    kid, doc = kid[order], doc[order]
    used = np.bincount(kid, minlength=len(ordered)) > 0 if len(ordered) else np.zeros(0, bool)
    if not used.all():                                          # keys whose every posting was dropped
        remap = np.cumsum(used) - 1
        kid = remap[kid]
        ordered = [k for k, u in zip(ordered, used.tolist(), strict=True) if u]
    ptr = np.zeros(len(ordered) + 1, dtype=np.int64)
    np.cumsum(np.bincount(kid, minlength=len(ordered)), out=ptr[1:])
    _write_keys(folder, name, ordered)
    save_array(folder / f"{name}.ptr.npy", ptr)
    save_array(folder / f"{name}.doc.npy", doc.astype(doc_dtype))
    if values:
        val = _concat(vals, np.uint8)[order]
        if val_dtype is None:                                   # the smallest unsigned type that holds them
            val_dtype = np.min_scalar_type(max(int(val.max()) if len(val) else 0, 0))
        save_array(folder / f"{name}.val.npy", val.astype(val_dtype))


def _drain(parts):
    """The parts in order; a list is emptied as it is read."""
    if not isinstance(parts, list):
        yield from parts
        return
    parts.reverse()
    while parts:
        yield parts.pop()


def _concat(arrays: list[np.ndarray], empty_dtype) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=empty_dtype)


def _by_key_then_doc(kid: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """The order sorting postings by key, then doc (np.lexsort((doc, kid)) with one int64 sort key)."""
    if not len(kid):
        return np.zeros(0, dtype=np.int64)
    key = kid.astype(np.int64)
    key *= int(doc.max()) + 1
    key += doc
    return np.argsort(key, kind="stable")


# Key ids gathered before they are turned into postings: bounds a build's arrays (every token of 100k sections is ~30M).
POSTINGS_CHUNK = 1 << 21


def postings_from_lists(lists: Iterable[Sequence[str]], count: bool
                        ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None]:
    """A part for write_postings from one list of keys per doc, read once (a generator is fine: only ids are
    kept): (keys, key index, doc, count of the key in the doc when `count`, else each key once per doc), sorted by
    doc, then key index."""
    vocab: dict[str, int] = {}
    setdefault = vocab.setdefault
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    ids, lens, first = array("q"), array("q"), 0
    for keys in lists:
        lens.append(len(keys))
        ids.extend([setdefault(k, len(vocab)) for k in keys])
        if len(ids) >= POSTINGS_CHUNK:
            out.append(_unique_pairs(ids, lens, first, len(vocab)))
            ids, lens, first = array("q"), array("q"), first + len(lens)
    out.append(_unique_pairs(ids, lens, first, len(vocab)))
    kid, doc, counts = (np.concatenate([o[k] for o in out]) for k in range(3))
    return list(vocab), kid, doc, (counts if count else None)


def _unique_pairs(ids: array, lens: array, first: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(key index, doc, count) of each distinct (doc, key) among docs first.. holding the key ids `ids` (`lens` of
    them each), sorted by doc, then key index; int32."""
    kid = np.frombuffer(ids, dtype=np.int64) if len(ids) else np.zeros(0, np.int64)
    lens_a = np.frombuffer(lens, dtype=np.int64) if len(lens) else np.zeros(0, np.int64)
    width = max(1, width)
    pair = np.repeat(np.arange(len(lens_a), dtype=np.int64) * width, lens_a)
    pair += kid
    pair, counts = np.unique(pair, return_counts=True)
    return ((pair % width).astype(np.int32), (pair // width + first).astype(np.int32), counts.astype(np.int32))
