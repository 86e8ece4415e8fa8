"""One segment of an index version: a run of section rows with everything both search legs need, written once.

A version (kb.storage.store) is one or two segments — a large base and a small delta of what changed since the base was
written — and a map from the sections table's rows to segment rows (kb.backends.local). A rebuild hard-links the segments
it keeps and writes only the new one, so editing one post of 10,000 writes a few files, not the whole index.

The files of a segment folder: kb/storage/FORMAT.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from kb.core import safeio
from kb.core.errors import IndexCorrupt
from kb.core.types import Section
from kb.ingest.entries import iter_entry_tokens
from kb.storage import codes, tables
from kb.storage.keyword import SegmentTerms, new_terms, write_terms
from kb.storage.store import REBUILD
from kb.storage.tables import (
    KeyTable,
    RowFile,
    RowReader,
    advise_random,
    json_line,
    load_array,
    postings_from_lists,
    save_array,
    write_postings,
)
from kb.storage.vector import VectorIndex, build_ann, save_ann
from kb.text.names import name_keys

SECTIONS = "sections.jsonl"
FORMAT = "segment.json"
# A segment whose vectors.npy holds at least this much is read with pread in a search (kb.storage.tables.RowReader: its
# mapped pages would grow the process by up to the file's size); a smaller one is read through its map.
PREAD_MIN_BYTES = 64 << 20
SENTENCE_VECTORS = "sentences.npy"
SENTENCE_STARTS = "sentence_starts.npy"
SENTENCE_HASHES = "sentence_hashes.npy"
SENTENCE_SCALES = "sentence_scales.npy"
NAMES = "names"
_SECTION_FIELDS = [f.name for f in fields(Section)]


def section_line(s: Section) -> bytes:
    """A section as one JSON line (the keys of Section.to_dict, without dataclasses.asdict's deep copies)."""
    d = {k: getattr(s, k) for k in _SECTION_FIELDS}
    d["links"] = [{"url": link.url, "text": link.text} for link in s.links]
    return json_line(d)


class Segment:
    """A written segment, memory-mapped; nothing is decoded until asked for. `search=False` (a rebuild reading the
    previous build) leaves the FAISS index unread and FAISS unimported."""

    def __init__(self, folder: Path, search: bool = True):
        self.folder = folder
        self.name = folder.name
        fmt = _format(folder)
        self.rows = RowFile(folder / SECTIONS, compressed=fmt["rows"] == "zlib")
        self.m = len(self.rows)
        self.index = VectorIndex.load(folder / "vectors.npy", folder / "ann.faiss" if search else None)
        self.vectors = self.index.vectors
        self.terms = SegmentTerms(folder)
        self.names = KeyTable(folder, NAMES, values=False)
        self.sentence_starts = load_array(folder / SENTENCE_STARTS, mmap_mode=None).astype(np.int64, copy=False)
        self.sentence_vectors = load_array(folder / SENTENCE_VECTORS)    # int8 codes, or float16 (older segments)
        self.sentence_scales = load_array(folder / SENTENCE_SCALES) if fmt["sentences"] == "int8" else None
        # a search in a large segment reads vector rows with pread (tables.RowReader), not through the map
        large = search and self.vectors.nbytes >= PREAD_MIN_BYTES
        self.vector_rows = RowReader(folder / "vectors.npy") if large else None
        self.sentence_rows = RowReader(folder / SENTENCE_VECTORS) if large else None
        if search:
            for mapped in (self.vectors, self.rows.data, self.terms.doclen, self.sentence_vectors):
                advise_random(mapped)
        st = self.sentence_starts
        if (self.vectors.ndim != 2 or len(self.vectors) != 2 * self.m or len(self.terms.doclen) != 2 * self.m
                or len(st) != self.m + 1 or int(st[0]) != 0 or bool(np.any(np.diff(st) < 0))
                or self.sentence_vectors.ndim != 2 or int(st[-1]) != len(self.sentence_vectors)
                or self.sentence_vectors.shape[1] != self.vectors.shape[1]
                or self.sentence_vectors.dtype.kind != ("i" if self.sentence_scales is not None else "f")
                or (self.sentence_scales is not None and self.sentence_scales.shape != (int(st[-1]),))):
            raise ValueError(f"segment {self.name} is inconsistent")

    def vector_index(self) -> VectorIndex:
        """The segment's vector index, its FAISS file read on first use (IndexCorrupt, one line, if it cannot be)."""
        try:
            self.index.ann  # noqa: B018 - reads the FAISS file once
        except (ValueError, OSError):
            raise IndexCorrupt(f"index file {self.name}/ann.faiss is damaged; rebuild with: {REBUILD} --full") from None
        return self.index

    def section(self, i: int) -> Section:
        return Section.from_dict(self.rows.get(i))

    def hashes(self) -> np.ndarray:
        return load_array(self.folder / "hashes.npy")

    def sentence_hashes(self) -> np.ndarray:
        return load_array(self.folder / SENTENCE_HASHES)

    def sentences_of(self, i: int) -> np.ndarray:
        """Row i's snippet-sentence vectors (float32)."""
        a, b = int(self.sentence_starts[i]), int(self.sentence_starts[i + 1])
        return self.sentences(a, b)

    def sentences(self, a: int, b: int) -> np.ndarray:
        """Snippet-sentence vectors a..b-1 of the segment (float32, decoded from their 8-bit codes)."""
        v = self.sentence_rows.run(a, b) if self.sentence_rows is not None else self.sentence_vectors[a:b]
        return codes.dequantise(v, self.sentence_scales[a:b]) if self.sentence_scales is not None else v.astype(np.float32)

    def sentence_codes(self, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(int8 codes, float32 scales) of the given sentences (an older segment's float16 vectors are quantised)."""
        if self.sentence_scales is not None:
            return self.sentence_vectors[picks], self.sentence_scales[picks]
        return codes.quantise(self.sentence_vectors[picks])

    def entry_vectors(self, entries: np.ndarray) -> np.ndarray:
        """Vectors of the given entries (float32), in the given order."""
        if self.vector_rows is not None:
            return self.vector_rows.take(entries).astype(np.float32)
        entries = np.asarray(entries, dtype=np.int64)
        order = np.argsort(entries, kind="stable")              # sorted reads: sequential on a memory-mapped file
        out = np.empty((len(entries), self.vectors.shape[1]), dtype=np.float32)
        out[order] = self.vectors[entries[order]]
        return out


@dataclass
class NewRows:
    """Sections parsed by this build with their entries' vectors and text hashes (k section entries, then k titles)."""
    sections: list[Section]
    vectors: np.ndarray              # float16, as stored
    hashes: np.ndarray
    sentence_vectors: np.ndarray     # int8 codes of the sections' snippet sentences, section after section
    sentence_starts: np.ndarray      # k + 1 offsets into sentence_vectors
    sentence_hashes: np.ndarray
    sentence_scales: np.ndarray      # float32, one per sentence (kb.storage.codes)

    def entry(self, lo: int, hi: int) -> np.ndarray:
        """Entry positions of sections lo..hi-1: their section entries, then their title entries."""
        k = len(self.sections)
        return np.concatenate([np.arange(lo, hi), k + np.arange(lo, hi)])


# A piece of a new segment, in row order: rows of an old segment, or new sections lo..hi-1.
Piece = tuple[Segment, np.ndarray] | tuple[NewRows, int, int]


def _rows(p: Piece) -> int:
    return len(p[1]) if isinstance(p[0], Segment) else p[2] - p[1]


def _sentence_run(p: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A piece's snippet sentences: (count per row, their int8 codes, their hashes, their scales), in row order."""
    if isinstance(p[0], Segment):
        seg, rows = p[0], np.asarray(p[1], dtype=np.int64)
        a, b = seg.sentence_starts[rows], seg.sentence_starts[rows + 1]
        counts = b - a
        ends = np.cumsum(counts)
        picks = np.repeat(a - (ends - counts), counts) + np.arange(int(ends[-1]) if len(ends) else 0)
        q, scales = seg.sentence_codes(picks)
        return counts, q, seg.sentence_hashes()[picks], scales
    new, lo, hi = p
    a, b = int(new.sentence_starts[lo]), int(new.sentence_starts[hi])
    return (np.diff(new.sentence_starts[lo:hi + 1]), new.sentence_vectors[a:b], new.sentence_hashes[a:b],
            new.sentence_scales[a:b])


def _write_sentences(folder: Path, runs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], dim: int
                     ) -> None:
    counts = np.concatenate([r[0] for r in runs] + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
    tables.save_runs(folder / SENTENCE_VECTORS, [r[1] for r in runs], np.int8, (dim,))    # no concatenated copy
    save_array(folder / SENTENCE_SCALES, np.concatenate([r[3] for r in runs] + [np.zeros(0, dtype=np.float32)]))
    save_array(folder / SENTENCE_HASHES, np.concatenate([r[2] for r in runs] + [np.zeros(0, dtype="S16")]))
    save_array(folder / SENTENCE_STARTS, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def _compressed_rows(p: Piece):
    """A piece's rows for write_rows, compressed: an old segment's compressed rows are copied as they are."""
    if isinstance(p[0], Segment):
        seg, rows = p[0], p[1]
        return (seg.rows, rows) if seg.rows.compressed else [tables.compress_row(seg.rows.raw(int(i))) for i in rows]
    new, lo, hi = p
    return [tables.compress_row(section_line(s)) for s in new.sections[lo:hi]]


def _whole_new(pieces: Sequence[Piece], m: int) -> np.ndarray | None:
    """The new rows' float16 vectors when the segment is exactly all of them in order (their entry order is the
    segment's), else None."""
    if len(pieces) == 1 and isinstance(pieces[0][0], NewRows) and pieces[0][1] == 0 and pieces[0][2] == m == len(
            pieces[0][0].sections) and pieces[0][0].vectors.dtype == np.float16:
        return np.ascontiguousarray(pieces[0][0].vectors)
    return None


def _format(folder: Path) -> dict[str, str]:
    """How the segment stores its rows ("zlib", or "plain" for a segment written before segment.json existed) and its
    sentence vectors ("int8" codes with scales, or "float16" for a segment written before the codes)."""
    try:
        d = safeio.read_json(folder / FORMAT, 4096)
    except FileNotFoundError:
        return {"rows": "plain", "sentences": "float16"}
    except (OSError, ValueError) as err:
        raise ValueError(f"segment {folder.name}: unreadable {FORMAT}") from err
    if not isinstance(d, dict) or d.get("rows") not in ("zlib", "plain"):
        raise ValueError(f"segment {folder.name}: unknown row format")
    if d.setdefault("sentences", "float16") not in ("int8", "float16"):
        raise ValueError(f"segment {folder.name}: unknown sentence format")
    return d


def write_segment(folder: Path, pieces: Sequence[Piece], dim: int) -> int:
    """Write a segment made of `pieces` (in row order) into the new folder; returns its row count."""
    folder.mkdir()
    m = sum(_rows(p) for p in pieces)
    starts = np.cumsum([0] + [_rows(p) for p in pieces])
    whole = _whole_new(pieces, m)               # a full build: the new rows' vectors are the segment's, as they are
    vectors = whole if whole is not None else np.empty((2 * m, dim), dtype=np.float16)   # ~1e-5 off a float32 cosine
    hashes = np.empty(2 * m, dtype="S16")
    doclen = np.zeros(2 * m, dtype=np.int32)
    entry_maps: dict[int, tuple[Segment, np.ndarray]] = {}      # old segment → old entry → new entry (-1: not kept)
    row_maps: dict[int, tuple[Segment, np.ndarray]] = {}
    new_parts: list[tuple] = []
    name_parts: list[tuple] = []
    for p, start in zip(pieces, starts[:-1].tolist(), strict=True):
        k = _rows(p)
        dest = np.concatenate([start + np.arange(k), m + start + np.arange(k)])
        if isinstance(p[0], Segment):
            seg, rows = p[0], np.asarray(p[1], dtype=np.int64)
            src = np.concatenate([rows, seg.m + rows])
            order = np.argsort(src, kind="stable")          # sorted reads of the memory-mapped vectors
            vectors[dest[order]] = seg.vectors[src[order]]
            hashes[dest] = seg.hashes()[src]
            doclen[dest] = seg.terms.doclen[src]
            emap = entry_maps.setdefault(id(seg), (seg, np.full(2 * seg.m, -1, dtype=np.int64)))[1]
            emap[src] = dest
            rmap = row_maps.setdefault(id(seg), (seg, np.full(seg.m, -1, dtype=np.int64)))[1]
            rmap[rows] = start + np.arange(k)
        else:
            new, lo, hi = p
            src = new.entry(lo, hi)
            if whole is None:
                vectors[dest] = new.vectors[src]
            hashes[dest] = new.hashes[src]
            secs = new.sections[lo:hi]
            part, lens = new_terms(iter_entry_tokens(secs))
            doclen[dest] = lens
            new_parts.append((*part[:2], dest[part[2]].astype(np.int32), part[3]))
            keys, kid, doc, _ = postings_from_lists((name_keys(s) for s in secs), count=False)
            name_parts.append((keys, kid, start + doc, None))
    save_array(folder / "vectors.npy", vectors)             # the first np.save of a build (tests/fixtures/faults)
    with safeio.create_new(folder / FORMAT) as f:          # (store.write_json is the manifest's alone)
        f.write(b'{"rows":"zlib","sentences":"int8"}')
    save_array(folder / "hashes.npy", hashes)
    _write_sentences(folder, [_sentence_run(p) for p in pieces], dim)     # (counts, codes, hashes, scales) by row
    term_parts, old_names = [], []
    for seg, emap in entry_maps.values():
        keys, kid, doc, val = seg.terms.table.coo()
        term_parts.append((keys, kid, emap[doc], val))
    for seg, rmap in row_maps.values():
        keys, kid, doc, _ = seg.names.coo()
        old_names.append((keys, kid, rmap[doc], None))
    term_parts += new_parts
    del new_parts
    write_terms(folder, term_parts, doclen)                 # empties term_parts as it reads them
    write_postings(folder, NAMES, old_names + name_parts, values=False)
    tables.write_rows(folder / SECTIONS, [_compressed_rows(p) for p in pieces])
    save_ann(build_ann(vectors), folder / "ann.faiss")
    return m
