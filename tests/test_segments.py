"""Segmented indexes (kb.storage.segment, kb.backends.local, kb.build.local): an edit writes a small delta segment and hard-links the rest,
and the index then answers exactly like one built from scratch; compaction; BM25 bit for bit equal to bm25s; the
stored name map and the filter columns equal their in-memory definitions; the content stat cache. Fake embedder
(fast); the real model runs the same code in tests/test_index_faults.py and `python -m benchmarks.bench`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import kb
from benchmarks.bench import write_corpus
from kb.backends.filters import mask, parse_filters
from kb.build import local as kbuild
from kb.build.local import build_index
from kb.core.config import Settings
from kb.ingest.entries import entry_tokens
from kb.query import fusion
from kb.query.index import MODES
from kb.storage import store
from kb.text.names import name_map

QUERIES = ["트레이딩", "fastbook", "PyTorch 분산 학습", "음성인식 공부 자료", "kbdeltatoken", "FlashFormer2", "논문 리뷰",
           "Hugging Face 데이터셋", "강화학습"]
FILTERS = [{}, {"since": "2015-06-01", "until": "2016-06-30"}, {"tags": ["NLP"]}, {"categories": ["paper"]}]


def answers(index_dir: Path, embedder) -> dict:
    index = kb.open_index(index_dir, embedder=embedder)
    out = {}
    for q in QUERIES:
        for mode in MODES:
            for i, f in enumerate(FILTERS):
                out[(q, mode, i)] = [(h.path, h.position, h.score, tuple(sorted(h.scores.items())), h.snippet)
                                     for h in index.search(q, mode=mode, k=10, **f)]
    return out


def sentence_vectors(index_dir: Path) -> list[bytes]:
    """Every row's snippet-sentence vectors, as bytes (kb.storage.segment stores them per segment, in row order)."""
    backend = kb.open_index(index_dir).backend
    return [np.asarray(backend.sentence_vectors(r)).tobytes() for r in range(len(backend.sections))]


def tables(index_dir: Path) -> tuple:
    index = kb.open_index(index_dir)
    return ([s.to_dict() for s in index.sections], [p.to_dict() for p in index.posts],
            {k: v for k, v in name_map(list(index.sections)).items()})


def live(index_dir: Path) -> Path:
    return store.current_version(index_dir)


def gain_a_section(post: Path, token: str) -> None:
    post.write_text(post.read_text(encoding="utf-8") + f"\n### {token} notes\n\n[참고링크](https://github.com/kb/{token})\n\n"
                    f"{token} 관련 메모를 덧붙였다.\n", encoding="utf-8")


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "content", posts=30, seed=5, years=2).folder


def test_an_edit_writes_a_delta_segment_and_answers_like_a_full_build(tmp_path, corpus, fake_embedder, monkeypatch):
    monkeypatch.setattr(kbuild, "DELTA_MAX_FRACTION", 0.25)             # 3 of 30 posts change: stay a delta
    settings = Settings.load(corpus, tmp_path / "index")
    build_index(settings, embedder=fake_embedder)
    before = live(tmp_path / "index")
    base = store.read_manifest(before).segments[0]["name"]
    posts = sorted(corpus.glob("*.md"))
    gain_a_section(posts[4], "kbdeltatoken")
    posts[11].unlink()
    shutil.copy(posts[20], corpus / "2099-01-01-copy.md")                 # a duplicate: skipped, named
    (corpus / "2016-03-05-new.md").write_text("---\ntitle: New\ndate: 2016-03-05\ntags: [NLP]\n---\n\n### FlashFormer2"
                                              "\n\n새 글의 FlashFormer2 소개.\n", encoding="utf-8")
    report = build_index(settings, embedder=fake_embedder)
    assert not report.up_to_date and report.embedded == 2 * (1 + 1)      # the new section and the new post's one
    after = live(tmp_path / "index")
    m = store.read_manifest(after)
    assert [s["name"] for s in m.segments][0] == base and len(m.segments) == 2
    for f in (before / base).iterdir():                                   # the base is hard-linked, not rewritten
        assert (after / base / f.name).stat().st_ino == f.stat().st_ino
        assert m.files[f"{base}/{f.name}"] == store.read_manifest(before).files[f"{base}/{f.name}"]
    assert any("identical to" in r for _, r in report.skipped)

    fresh = Settings.load(corpus, tmp_path / "fresh")
    build_index(fresh, embedder=fake_embedder, full=True)
    assert len(store.read_manifest(live(tmp_path / "fresh")).segments) == 1
    assert tables(tmp_path / "index") == tables(tmp_path / "fresh")
    assert sentence_vectors(tmp_path / "index") == sentence_vectors(tmp_path / "fresh")
    assert answers(tmp_path / "index", fake_embedder) == answers(tmp_path / "fresh", fake_embedder)
    hits = kb.open_index(tmp_path / "index", embedder=fake_embedder).search("kbdeltatoken", mode="keyword", k=3)
    assert hits and Path(hits[0].path).name == posts[4].name


def test_the_delta_is_compacted_once_it_outgrows_its_share(tmp_path, corpus, fake_embedder, monkeypatch):
    monkeypatch.setattr(kbuild, "DELTA_MAX_FRACTION", 0.25)
    settings = Settings.load(corpus, tmp_path / "index")
    build_index(settings, embedder=fake_embedder)
    posts = sorted(corpus.glob("*.md"))
    gain_a_section(posts[2], "kbfirst")
    build_index(settings, embedder=fake_embedder)
    assert len(store.read_manifest(live(tmp_path / "index")).segments) == 2
    monkeypatch.setattr(kbuild, "DELTA_MAX_FRACTION", 0.01)
    gain_a_section(posts[7], "kbsecond")
    build_index(settings, embedder=fake_embedder)
    assert len(store.read_manifest(live(tmp_path / "index")).segments) == 1
    build_index(Settings.load(corpus, tmp_path / "fresh"), embedder=fake_embedder, full=True)
    assert tables(tmp_path / "index") == tables(tmp_path / "fresh")
    assert sentence_vectors(tmp_path / "index") == sentence_vectors(tmp_path / "fresh")
    assert answers(tmp_path / "index", fake_embedder) == answers(tmp_path / "fresh", fake_embedder)


def test_large_segments_read_vectors_with_pread_and_answer_the_same(tmp_path, corpus, fake_embedder, monkeypatch):
    """A segment over kb.storage.segment.PREAD_MIN_BYTES reads vector rows with pread (kb.storage.tables.RowReader) instead of
    through its memory map; the answers, snippets included, are the same either way."""
    from kb.storage import segment

    monkeypatch.setattr(kbuild, "DELTA_MAX_FRACTION", 0.25)
    settings = Settings.load(corpus, tmp_path / "index")
    build_index(settings, embedder=fake_embedder)
    gain_a_section(sorted(corpus.glob("*.md"))[3], "kbdeltatoken")
    build_index(settings, embedder=fake_embedder)                          # two segments: base + delta
    mapped = answers(tmp_path / "index", fake_embedder)
    assert all(s.vector_rows is None for s in kb.open_index(tmp_path / "index").backend._v.segments)
    monkeypatch.setattr(segment, "PREAD_MIN_BYTES", 0)
    index = kb.open_index(tmp_path / "index")
    assert all(s.vector_rows is not None for s in index.backend._v.segments)
    rows = np.array([5, 0, 5, len(index) - 1, 2], dtype=np.int64)          # any order, repeats
    sec, title = index.backend.entry_vectors(rows)
    seg = index.backend._v.segments[0]
    assert np.array_equal(seg.vector_rows.take(np.array([3, 1, 3])), np.asarray(seg.vectors[[3, 1, 3]]))
    assert sec.shape == title.shape == (5, seg.vectors.shape[1]) and np.array_equal(sec[0], sec[2])
    assert answers(tmp_path / "index", fake_embedder) == mapped
    every = np.arange(len(index))
    one_by_one = index.backend.entry_vectors(every)
    monkeypatch.setattr(kb.storage.tables.RowReader, "RUN_READ_ROWS", 0)             # a whole table: read in runs
    assert all(np.array_equal(x, y) for x, y in zip(index.backend.entry_vectors(every), one_by_one, strict=True))


def test_a_process_reading_the_whole_sections_table_decodes_it_once(fake_index, monkeypatch):
    from kb.backends.local import SectionTable

    monkeypatch.setattr(SectionTable, "CACHE_ROWS", 4)
    v = fake_index.backend._v
    every = list(SectionTable(v))                                   # a full iteration keeps every row
    rowwise = SectionTable(v)
    assert [rowwise[i] for i in range(len(every))] == every        # row by row: past a quarter, all rows are kept
    assert rowwise._all is not None and rowwise[3] is rowwise[3]
    few = SectionTable(v)
    assert [few[i] for i in (0, 1, 0, 1)] == [every[0], every[1], every[0], every[1]] and few._all is None


def test_keyword_scores_are_bm25s_bit_for_bit(fake_index):
    import bm25s

    docs = [t if t else [""] for t in entry_tokens(list(fake_index.sections))]
    ref = bm25s.BM25(k1=1.2, b=0.75)
    ref.index(docs, show_progress=False)
    leg = fake_index.backend.keyword
    col_max = {}
    for q in QUERIES + ["", "없는단어 zzzz", "모델 모델 모델"]:
        tokens = kb.text.tokenize.tokenize_query(q)
        ids = [ref.vocab_dict[t] for t in tokens if t and t in ref.vocab_dict]
        want = np.asarray(ref.get_scores(ids), dtype=np.float32) if ids else np.zeros(len(docs), np.float32)
        (got,) = leg.scores(tokens)
        assert got.dtype == np.float32 and np.array_equal(got, want), q
        for t in tokens:
            if t in ref.vocab_dict:
                col_max[t] = float(np.asarray(ref.get_scores([ref.vocab_dict[t]]), dtype=np.float32).max())
                assert leg.token_max(t) == col_max[t]


def test_stored_names_and_filter_columns_equal_their_definitions(fake_index):
    sections = list(fake_index.sections)
    backend = fake_index.backend
    for key, rows in name_map(sections).items():
        assert backend.name_rows(key).tolist() == rows
    assert backend.name_rows("nosuchname").tolist() == []
    tags = sorted({t for s in sections for t in s.tags})
    cats = sorted({c for s in sections for c in s.categories})
    cases = [{}, {"since": "2020-08-01"}, {"until": "2020-07-31"}, {"since": "2020-07-05", "until": "2020-09-30"},
             {"tags": tags[:1]}, {"tags": [t.upper() for t in tags[-2:]]}, {"categories": cats[:1]},
             {"post": sections[10].post_path}, {"post": "nope.md"}, {"rows": [1, 5, 70, 999]},
             {"since": "2020-08-01", "tags": tags[:2], "rows": range(30, 74)}]
    for c in cases:
        f = parse_filters(**c)
        want, got = mask(f, sections), backend.mask(f)
        assert (want is None and got is None) or np.array_equal(want, got), c


def test_unchanged_files_are_not_read_again_and_a_same_size_edit_is_still_seen(tmp_path, corpus, fake_embedder,
                                                                             monkeypatch):
    settings = Settings.load(corpus, tmp_path / "index")
    monkeypatch.setattr(kbuild, "RACY_NS", 0)                 # trust stats at once (normally: 2 s after a change)
    build_index(settings, embedder=fake_embedder)
    read = []
    real = kbuild._hash_file
    monkeypatch.setattr(kbuild, "_hash_file", lambda pf: read.append(pf.rel) or real(pf))
    assert build_index(settings, embedder=fake_embedder).up_to_date and read == []
    post = sorted(corpus.glob("*.md"))[3]
    st = post.stat()
    text = post.read_text(encoding="utf-8")
    i = text.index("다")
    post.write_text(text[:i] + "요" + text[i + 1:], encoding="utf-8")         # same size in UTF-8
    os.utime(post, ns=(st.st_atime_ns, st.st_mtime_ns))                      # and the old mtime
    assert post.stat().st_size == st.st_size
    report = build_index(settings, embedder=fake_embedder)
    assert not report.up_to_date and read == [post.name]


def test_verify_checks_sizes_always_and_checksums_by_size(tmp_path, corpus, fake_embedder, monkeypatch):
    build_index(Settings.load(corpus, tmp_path / "index"), embedder=fake_embedder)
    vdir = live(tmp_path / "index")
    m = store.read_manifest(vdir)
    seg = m.segments[0]["name"]
    vec = vdir / seg / "vectors.npy"
    data = bytearray(vec.read_bytes())
    data[-3] ^= 0x5A
    vec.write_bytes(bytes(data))
    with pytest.raises(kb.core.errors.IndexCorrupt, match="vectors.npy"):
        store.verify_files(vdir, m)                                      # a small index: every file is hashed
    monkeypatch.setattr(store, "VERIFY_ALL_BYTES", 0)
    monkeypatch.setattr(store, "VERIFY_FILE_BYTES", 1024)
    store.verify_files(vdir, m)                                          # large files: sizes only
    with pytest.raises(kb.core.errors.IndexCorrupt, match="vectors.npy"):
        store.verify_files(vdir, m, deep=True)
    vec.write_bytes(bytes(data[:-1]))
    with pytest.raises(kb.core.errors.IndexCorrupt, match="vectors.npy"):
        store.verify_files(vdir, m)


def test_verify_on_the_command_line_and_damage_found_lazily(tmp_path, corpus, fake_embedder, monkeypatch):
    from fixtures.cli import assert_one_line_error, run_kb

    index_dir = tmp_path / "index"
    build_index(Settings.load(corpus, index_dir), embedder=fake_embedder)
    proc = run_kb("index", "--index-dir", index_dir, "--verify", timeout=120)
    assert proc.returncode == 0 and "verified" in proc.stdout, proc.stderr
    vdir = live(index_dir)
    rows = vdir / store.read_manifest(vdir).segments[0]["name"] / "sections.jsonl"
    data = bytearray(rows.read_bytes())
    row1 = int(np.load(rows.with_name("sections.off.npy"))[1])
    data[row1 + 2] ^= 0xFF                                 # row 1's compressed bytes fail zlib's check: same size
    rows.write_bytes(bytes(data))
    assert_one_line_error(run_kb("index", "--index-dir", index_dir, "--verify", timeout=120), "sections.jsonl", "--full")
    monkeypatch.setattr(store, "VERIFY_ALL_BYTES", 0)      # as in a large index: big files are checked by size only
    monkeypatch.setattr(store, "VERIFY_FILE_BYTES", 1024)
    index = kb.open_index(index_dir, embedder=fake_embedder)
    assert index.sections[0].heading
    with pytest.raises(kb.core.errors.IndexCorrupt, match="sections.jsonl.*--full"):
        index.sections[1]


def test_a_key_table_finds_every_key_with_its_postings(tmp_path):
    from collections import Counter

    from kb.storage.tables import KeyTable, postings_from_lists, write_postings

    lists = [["a", "ab", "abc", "ab"], ["", "트레이딩", "트레"], ["z", "a", "😀", "트레이딩", "트레이딩"], []]
    write_postings(tmp_path, "t", [postings_from_lists(lists, count=True)], values=True)
    table = KeyTable(tmp_path, "t", values=True)
    want: dict[str, dict[int, int]] = {}
    for d, keys in enumerate(lists):
        for k, c in Counter(keys).items():
            want.setdefault(k, {})[d] = c
    assert table.all_keys() == sorted(want) and len(table) == len(want)
    for k, docs in want.items():
        doc, val = table.postings(table.find(k))
        assert dict(zip(doc.tolist(), val.tolist(), strict=True)) == docs
    for missing in ("b", "aa", "abcd", "트", "트레이", "zz", "😀😀"):
        assert table.find(missing) == -1
    write_postings(tmp_path, "e", [], values=False)
    empty = KeyTable(tmp_path, "e", values=False)
    assert len(empty) == 0 and empty.find("a") == -1


FILTER_CASES = [{"since": "2015-04-01", "until": "2015-09-30"}, {"tags": ["NLP"]}, {"categories": ["paper"]},
                {"since": "2015-07-01", "tags": ["NLP", "Vision"]}]


def exact_filtered_rows(backend, qv: np.ndarray, m: np.ndarray, k: int) -> list[int]:
    """The rows of the best k entries among those passing the mask, by exact inner product over every entry (ties to
    the earlier entry): what a search of an index holding only the filtered sections would give."""
    n = len(m)
    sec, title = backend.entry_vectors(np.arange(n))
    scores = np.concatenate([sec @ qv, title @ qv])
    ok = np.flatnonzero(np.concatenate([m, m]))
    best = ok[np.lexsort((ok, -scores[ok]))][:k]
    return list(dict.fromkeys((best % n).tolist()))


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_a_filtered_search_returns_what_an_unfiltered_search_then_the_filter_returns(tmp_path, corpus, fake_embedder,
                                                                                    monkeypatch, kind):
    """Filters go into FAISS (an ID selector over a flat or IVF index, dead rows left out): the vector leg's rows
    under a filter are the exact best entries among the filtered ones, and every hit and score of a filtered
    semantic search is that of the unfiltered search with the filter applied afterwards; a filtered keyword search's
    hits are among the unfiltered search's best WORDS_RULE_POOL that the filter keeps (its words rule re-ranks
    those), each with its unfiltered score."""
    from kb.storage import vector

    if kind == "ivf":
        monkeypatch.setattr(vector, "IVF_MIN_ENTRIES", 200)
    monkeypatch.setattr(kbuild, "DELTA_MAX_FRACTION", 0.25)
    settings = Settings.load(corpus, tmp_path / "index")
    build_index(settings, embedder=fake_embedder)
    gain_a_section(sorted(corpus.glob("*.md"))[3], "kbdeltatoken")        # a delta segment; the base has dead rows
    build_index(settings, embedder=fake_embedder)
    index = kb.open_index(tmp_path / "index", embedder=fake_embedder)
    backend = index.backend
    assert [s.vector_index().kind for s in backend.segments] == [kind, "flat"]
    assert sum(backend._dead) > 0
    n = len(index)
    for case in FILTER_CASES:
        f = parse_filters(**case)
        m = backend.mask(f)
        assert 10 < int(m.sum()) < n, case                                   # the filter keeps some, not all
        for q in QUERIES:
            qv = fake_embedder.embed_query(q)
            for limit in (5, 20):
                got = backend.vector_search(qv, f, limit).tolist()
                want = exact_filtered_rows(backend, qv, m, 2 * limit)
                assert all(m[got])
                if kind == "flat":
                    assert got == want, (case, q, limit)
                else:                                 # IVF proposes: its rows hold the exact best ones
                    assert set(want[:limit]) <= set(got), (case, q, limit)
            for mode in ("semantic", "keyword"):
                # (a cosine may differ in its last float32 bit: BLAS sums a batch of 10 rows and one of n apart)
                filtered = {h.row: h.score for h in index.search(q, mode=mode, k=10, **case)}
                # keyword mode re-ranks its first WORDS_RULE_POOL candidates by the query words each holds: the
                # filtered hits come from the best of those the filter keeps, each with its unfiltered score
                keep = 10 if mode == "semantic" else fusion.WORDS_RULE_POOL
                after = sorted((-round(h.score, 6), h.row, h.score) for h in index.search(q, mode=mode, k=n)
                                if m[h.row])[:keep]
                best = {r: score for _, r, score in after}
                if mode == "semantic":
                    assert sorted(filtered) == sorted(best), (case, q, mode)
                else:
                    assert len(filtered) == min(10, len(best)) and set(filtered) <= set(best), (case, q, mode)
                assert all(abs(best[r] - score) < 1e-6 for r, score in filtered.items()), (case, q, mode)
    few = parse_filters(post=index.sections[0].post_path)                  # fewer rows than asked for: all of them
    assert backend.vector_search(fake_embedder.embed_query("x"), few, 50).tolist() == np.flatnonzero(
        backend.mask(few)).tolist()


def test_cached_keyword_columns_score_as_computed_ones(fake_index):
    """kb.storage.keyword keeps the last tokens' columns within a byte budget: cached, evicted or off, a query's
    scores are the same bits."""
    from kb.storage.keyword import KeywordLeg

    leg = fake_index.backend.keyword
    queries = [kb.text.tokenize.tokenize_query(q) for q in QUERIES + ["모델 모델 모델"]]
    fresh = KeywordLeg(leg.segments, leg.live)
    fresh.cache_bytes = 0
    want = [fresh.scores(t) for t in queries]
    small = KeywordLeg(leg.segments, leg.live)
    small.cache_bytes = 4096                                           # evicts as it goes
    for _ in range(2):
        for t, w in zip(queries, want, strict=True):
            assert all(np.array_equal(a, b) for a, b in zip(small.scores(t), w, strict=True))
            assert all(np.array_equal(a, b) for a, b in zip(leg.scores(t), w, strict=True))
    assert 0 < small._cached <= 4096 and all(col == [] for col in fresh._columns.values())   # off: only misses kept


def as_written_before_segment_json(seg: Path) -> None:
    """Turn a segment into what kb wrote before segment.json: plain JSON rows, float32 vectors, uint32 frequencies,
    float16 sentence vectors (no 8-bit codes)."""
    import zlib

    from kb.storage.codes import dequantise
    from kb.storage.tables import RowFile

    rows = RowFile(seg / "sections.jsonl", compressed=True)
    plain = [zlib.decompress(rows.raw(i)) + b"\n" for i in range(len(rows))]
    del rows
    (seg / "sections.jsonl").write_bytes(b"".join(plain))
    np.save(seg / "sections.off.npy", np.concatenate([[0], np.cumsum([len(x) for x in plain])]).astype(np.int64))
    np.save(seg / "vectors.npy", np.load(seg / "vectors.npy").astype(np.float32))
    np.save(seg / "terms.val.npy", np.load(seg / "terms.val.npy").astype(np.uint32))
    floats = dequantise(np.load(seg / "sentences.npy"), np.load(seg / "sentence_scales.npy")).astype(np.float16)
    np.save(seg / "sentences.npy", floats)
    (seg / "sentence_scales.npy").unlink()
    (seg / "segment.json").unlink()


def test_segments_written_before_segment_json_are_read_and_compacted(tmp_path, corpus, fake_embedder, monkeypatch):
    """An index written before compressed rows and float16 vectors answers as it did, and a rebuild reuses its
    vectors and rewrites its rows compressed (no schema change, nothing embedded again)."""
    import json

    settings = Settings.load(corpus, tmp_path / "index")
    build_index(settings, embedder=fake_embedder)
    vdir = live(tmp_path / "index")
    before, rows_before = answers(tmp_path / "index", fake_embedder), tables(tmp_path / "index")
    seg = vdir / store.read_manifest(vdir).segments[0]["name"]
    as_written_before_segment_json(seg)
    m = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    m["files"] = store.checksum_tree(vdir)
    m["manifest_sha256"] = store.manifest_digest(m)
    (vdir / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    index = kb.open_index(tmp_path / "index", embedder=fake_embedder)
    assert not index.backend.segments[0].rows.compressed and index.backend.segments[0].vectors.dtype == np.float32
    assert index.backend.segments[0].sentence_scales is None
    assert answers(tmp_path / "index", fake_embedder) == before and tables(tmp_path / "index") == rows_before
    monkeypatch.setattr(kbuild, "DELTA_MAX_FRACTION", 0.0)                 # the next rebuild compacts
    gain_a_section(sorted(corpus.glob("*.md"))[2], "kbcompacttoken")
    report = build_index(settings, embedder=fake_embedder)
    assert report.embedded == 2                                            # the new section's two entries
    index = kb.open_index(tmp_path / "index", embedder=fake_embedder)
    (only,) = index.backend.segments
    assert only.rows.compressed and only.vectors.dtype == np.float16 and only.sentence_vectors.dtype == np.int8
    assert index.search("kbcompacttoken", mode="keyword", k=1)[0].heading == "kbcompacttoken notes"
    kept = [s for s in index.sections if s.heading != "kbcompacttoken notes"]
    assert [s.to_dict() for s in kept] == rows_before[0]


def test_postings_are_the_same_whatever_the_chunk(monkeypatch):
    """A build turns key ids into postings a chunk at a time (tables.POSTINGS_CHUNK): the postings, their order and
    the term counts do not depend on where the chunks end."""
    import random

    from kb.storage import tables as tbl

    rng = random.Random(1)
    lists = [[rng.choice("abcdefghij") * rng.randint(1, 2) for _ in range(rng.randint(0, 30))] for _ in range(3000)]
    monkeypatch.setattr(tbl, "POSTINGS_CHUNK", 1 << 30)
    whole = tbl.postings_from_lists(iter(lists), count=True)
    monkeypatch.setattr(tbl, "POSTINGS_CHUNK", 97)
    chunked = tbl.postings_from_lists(iter(lists), count=True)
    assert whole[0] == chunked[0] and all(np.array_equal(a, b) for a, b in zip(whole[1:], chunked[1:], strict=True))
    keys, kid, doc, tf = whole
    want = sorted((d, keys.index(k), ks.count(k)) for d, ks in enumerate(lists) for k in set(ks))
    assert list(zip(doc.tolist(), kid.tolist(), tf.tolist(), strict=True)) == want


def test_sentence_codes_are_close_and_survive_reuse():
    """8-bit sentence codes (kb.storage.codes): each value within half a step of its own row's scale, and a decoded
    row quantised again gives the same codes and scale (a rebuild reusing a vector stores it unchanged)."""
    from kb.storage.codes import dequantise, quantise

    rng = np.random.default_rng(0)
    v = rng.standard_normal((3000, 384)).astype(np.float32)
    v[::7, 5] *= 40                                               # an outlier dimension in some rows
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v[11] = 0                                                     # an all-zero row
    codes, scales = quantise(v.astype(np.float16))
    assert codes.dtype == np.int8 and scales.dtype == np.float32 and codes.shape == v.shape
    back = dequantise(codes, scales)
    assert np.all(np.abs(back - v.astype(np.float16).astype(np.float32)) <= scales[:, None] / 2 + 1e-7)
    assert not back[11].any()
    again = quantise(back)
    assert np.array_equal(again[0], codes) and np.array_equal(again[1], scales)
