"""An index segment: a batch of articles with their chunks, vectors and BM25 postings,
written once and never changed, the way Lucene stores an index.

Why segments: adding one article to an archive of a million chunks must cost what that
article costs, not what the archive costs. A new batch of articles becomes a new segment;
removing or replacing an article marks it deleted in the manifest (qa/store.py) and the
segment's files stay as they are; small segments are merged into bigger ones in the
background of an add (qa/indexing.py `merge_policy`) or by `qa index optimize`.

What a segment keeps in memory and what it reads when asked:
- in memory: each article's metadata (an `ArticleHeader`), each chunk's article row,
  offsets and text hash (numpy arrays), the vectors in a FAISS index, the BM25 postings;
- on disk until cited: the article texts (`texts.bin`, read by byte offsets). A loaded
  segment holds its text file open, so a merge that deletes the folder does not pull the
  text out from under a snapshot that still answers questions.

Vectors live in an exact `IndexFlatIP` unless the segment has at least `ann_min_chunks`
chunks; then in an inverted file (`IndexIVFFlat`): k-means cells over the segment's vectors,
of which a query scans the `ann_nprobe` nearest. Exact search grows linearly with the
segment; at a million chunks the inverted file scans ~1.6 % of them in about 2 ms with
recall@10 0.998 against exact search (bench/scale.py; docs/PERFORMANCE.md, "Archive scale"). An HNSW graph
was tried first and lost to it: on the same archive its recall@10 stayed at 0.79 (efSearch
512), its build took longer, and its graph cost 300 MB more. A filter is applied inside
the scan (FAISS skips the rows it refuses), which then covers more cells the fewer rows the
filter allows; one that leaves under 1 % of the segment is searched exactly over those rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from qa.bm25 import Postings
from qa.text import date_span
from qa.types import Article, ArticleHeader, Chunk, Filters

# Files of a segment folder, in the order they are written.
FILES = ("vectors.faiss", "articles.json", "chunks.npy", "texts.bin", "bm25.npz", "minhash.npy")
# Files a segment saved by an earlier version may lack: its MinHash signatures are then
# computed from its texts when first needed (qa/wire.py).
OPTIONAL_FILES = ("minhash.npy",)
# A filter that allows a share s of an inverted-file segment's rows leaves about s of every
# scanned cell, so the query scans more cells: nprobe x min(FILTER_PROBE_MAX, FILTER_PROBE_SHARE / s).
# Below EXACT_BELOW_SHARE the allowed rows are searched exactly instead. At 1M chunks (100
# SQuAD questions, bench archive) recall@10 of the filtered top 10 was 0.993 / 0.999 / 1.0 at
# nprobe 64 / 128 / 256 for a 3.3 % filter, 0.999 at 64 for a 10 % one, and 0.905 / 0.975 at
# 64 / 256 for a 0.3 % one (searched exactly now).
EXACT_BELOW_SHARE = 0.01
FILTER_PROBE_SHARE = 0.05
FILTER_PROBE_MAX = 4
# Cells of an inverted file: 4 sqrt(n) rounded to a power of two (FAISS's guideline is 4-16
# sqrt(n)), 4096 at a million chunks, with at least IVF_TRAIN_PER_LIST k-means training
# points a cell (FAISS warns below 39); the training sample is drawn with a fixed seed.
IVF_LISTS_PER_SQRT = 4
IVF_TRAIN_PER_LIST = 40


def text_hash(text: str) -> int:
    """A 63-bit hash of an embedding text: equal hashes mean one embedding can serve both.

    >>> text_hash("NATO met in Brussels.") == text_hash("NATO met in Brussels.")
    True
    """
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little") >> 1


class Memo:
    """Values computed once for an object that never changes (a segment, an index snapshot),
    safe across threads: `memo.get("name", compute)`. Reentrant, since one value's
    computation may ask for another."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._values: dict[str, object] = {}

    def get(self, name: str, compute):
        if name not in self._values:
            with self.lock:
                if name not in self._values:
                    self._values[name] = compute()
        return self._values[name]


class _Texts:
    """Article texts of a segment: a list while it is being built, a file once it is loaded."""

    def __init__(self, texts: Sequence[str] | None = None, path: Path | None = None, offsets: np.ndarray | None = None) -> None:
        self._list = list(texts) if texts is not None else None
        self._offsets = offsets
        self._fd = self._open(path) if path is not None else None
        self._written: np.ndarray | None = None  # byte offsets of the last `encoded()`, for `attach`

    def _open(self, path: Path) -> int:
        fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, fd)
        return fd

    def __getitem__(self, row: int) -> str:
        texts = self._list  # read once: `attach` may swap it for the file meanwhile
        if texts is not None:
            return texts[row]
        a, b = int(self._offsets[row]), int(self._offsets[row + 1])
        return os.pread(self._fd, b - a, a).decode("utf-8")

    def encoded(self) -> tuple[bytes, np.ndarray]:
        """All texts as one UTF-8 blob and the byte offset where each starts (n + 1 offsets)."""
        n = len(self._list) if self._list is not None else len(self._offsets) - 1
        parts = [self[i].encode("utf-8") for i in range(n)]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        self._written = offsets
        return b"".join(parts), offsets

    def attach(self, path: Path) -> None:
        """Read from `path`, the texts.bin just written from `encoded()`, from now on and free the list."""
        if self._list is None or self._written is None:
            return  # already read from a file, or never written: nothing to swap
        fd = self._open(path)
        self._fd, self._offsets, self._list = fd, self._written, None


@dataclass(frozen=True, eq=False)
class Segment:
    name: str  # "seg-<time>-<random>": its folder once saved
    headers: tuple[ArticleHeader, ...]
    checksums: tuple[str, ...]  # Article.checksum per article row
    texts: _Texts
    chunk_article: np.ndarray  # (n_chunks,) int32: the article row of each chunk
    chunk_start: np.ndarray  # (n_chunks,) int32: character offsets in the article text
    chunk_end: np.ndarray
    hashes: np.ndarray  # (n_chunks,) int64: text_hash of each chunk's embedding text
    vectors: object  # faiss.IndexFlatIP or faiss.IndexIVFFlat, row i embeds chunk i
    postings: Postings
    # (n_articles, wire.PERMUTATIONS) uint32 MinHash signatures, made with the segment; None
    # for a segment saved without them (computed from its texts when first asked)
    minhash: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.chunk_article)
        if not (len(self.chunk_start) == len(self.chunk_end) == len(self.hashes) == self.vectors.ntotal == self.postings.n_docs == n):
            raise ValueError(f"segment {self.name}: {n} chunks but {self.vectors.ntotal} vectors and {self.postings.n_docs} postings")
        if len(self.checksums) != len(self.headers):
            raise ValueError(f"segment {self.name}: {len(self.headers)} articles but {len(self.checksums)} checksums")
        if n and (self.chunk_article.min() < 0 or self.chunk_article.max() >= len(self.headers)):
            raise ValueError(f"segment {self.name}: a chunk names an article row that does not exist")
        if self.minhash is not None and self.minhash.shape[0] != len(self.headers):
            raise ValueError(f"segment {self.name}: {len(self.headers)} articles but {self.minhash.shape[0]} MinHash signatures")
        self.__dict__["_memo"] = Memo()

    # --- reading ---------------------------------------------------------------------
    @property
    def n_chunks(self) -> int:
        return len(self.chunk_article)

    @property
    def is_ann(self) -> bool:
        return not _is_flat(self.vectors)

    def article(self, row: int) -> Article:
        h = self.headers[row]
        return Article(id=h.id, text=self.texts[row], title=h.title, date=h.date, publisher=h.publisher, url=h.url, path=h.path)

    def chunk(self, row: int, article: Article | None = None) -> Chunk:
        a = article or self.article(int(self.chunk_article[row]))
        s, e = int(self.chunk_start[row]), int(self.chunk_end[row])
        return Chunk(article_id=a.id, start=s, end=e, text=a.text[s:e])

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.vectors.d), np.float32)
        return self.vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def signatures(self) -> np.ndarray:
        """MinHash signatures of the articles (qa/wire.py): those made with the segment, or
        (a segment saved without them) computed once from its texts."""
        from qa.wire import signatures

        if self.minhash is not None:
            return self.minhash
        return self._once("_signatures", lambda: signatures([self.texts[i] for i in range(len(self.headers))]))

    def band_keys(self) -> np.ndarray:
        """The LSH band keys of the articles' signatures (qa/wire.py), once per segment."""
        from qa.wire import band_keys

        return self._once("_band_keys", lambda: band_keys(self.signatures()))

    def rows_with_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """For each text hash, a chunk row of this segment with that embedding text, or -1."""
        def table():
            order = np.argsort(self.hashes, kind="stable")
            return self.hashes[order], order

        sorted_h, order = self._once("_hash_table", table)
        rows = np.full(len(hashes), -1, dtype=np.int64)
        if not len(sorted_h):
            return rows
        pos = np.minimum(np.searchsorted(sorted_h, hashes), len(sorted_h) - 1)
        hit = sorted_h[pos] == hashes
        rows[hit] = order[pos[hit]]
        return rows

    def article_mask(self, filters: Filters) -> np.ndarray:
        """Which article rows a filter accepts, vectorized over the segment (Filters.accepts in bulk)."""
        ok = np.ones(len(self.headers), dtype=bool)
        if filters.article_ids:
            row_of = self._once("_row_of", lambda: {h.id: r for r, h in enumerate(self.headers)})
            wanted = np.zeros(len(self.headers), dtype=bool)
            wanted[[row_of[a] for a in filters.article_ids if a in row_of]] = True
            ok &= wanted
        if filters.publishers:  # compared as codes: 30 names, not 300,000 strings a query
            names, codes = self._once("_publisher_codes", lambda: np.unique(
                np.array([(h.publisher or "").casefold() for h in self.headers], dtype=np.str_), return_inverse=True))
            ok &= np.isin(codes, np.flatnonzero(np.isin(names, [p.casefold() for p in filters.publishers])))
        if filters.date_from or filters.date_to:
            lo, hi = _day_number(filters.date_from), _day_number(filters.date_to)
            if (lo or not filters.date_from) and (hi or not filters.date_to):  # full ISO days: YYYYMMDD integers
                first, last = self._once("_days", lambda: _day_columns(self.headers))
                ok &= first > 0
            else:  # anything else compares as the strings Filters.accepts compares
                first = self._column("_first", lambda h: date_span(h.date)[0] if h.date else "")
                last = self._column("_last", lambda h: date_span(h.date)[1] if h.date else "")
                ok &= first != ""
                lo, hi = filters.date_from, filters.date_to
            if filters.date_from:
                ok &= last >= lo
            if filters.date_to:
                ok &= first <= hi
        return ok

    def _column(self, name: str, value) -> np.ndarray:
        return self._once(name, lambda: np.array([value(h) for h in self.headers], dtype=np.str_))

    def _once(self, name: str, compute):
        """`compute()`, once per segment (a segment never changes)."""
        return self.__dict__["_memo"].get(name, compute)

    # --- search ----------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """The k rows most similar to `query` (1, dim) among those `mask` allows: (rows, scores)."""
        import faiss

        n = self.n_chunks
        if not n or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if not len(allowed):
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            share = len(allowed) / n
            if self.is_ann and share < EXACT_BELOW_SHARE:
                scores = self.vectors_of(allowed) @ query[0]
                top = np.argsort(-scores, kind="stable")[:k]
                return allowed[top], scores[top]
            bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
            if self.is_ann:
                wider = round(nprobe * min(FILTER_PROBE_MAX, max(1.0, FILTER_PROBE_SHARE / share)))
                params = faiss.SearchParametersIVF(sel=selector, nprobe=min(wider, self.vectors.nlist))
            else:
                params = faiss.SearchParameters(sel=selector)
            scores, rows = self.vectors.search(query, min(k, len(allowed)), params=params)
        elif self.is_ann:
            scores, rows = self.vectors.search(query, min(k, n), params=faiss.SearchParametersIVF(nprobe=nprobe))
        else:
            scores, rows = self.vectors.search(query, min(k, n))
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    # --- making ----------------------------------------------------------------------
    @classmethod
    def build(cls, name: str, articles: Sequence[Article], chunks: Sequence[Chunk], vectors: np.ndarray,
              hashes: Sequence[int], embedding_texts: Sequence[str], ann_min_chunks: int) -> "Segment":
        """A segment of `articles` whose `chunks` (in article order) embed as `vectors`."""
        from qa.wire import signatures

        row = {a.id: i for i, a in enumerate(articles)}
        return cls(
            name=name, headers=tuple(ArticleHeader.of(a) for a in articles), checksums=tuple(a.checksum for a in articles),
            texts=_Texts([a.text for a in articles]),
            chunk_article=np.array([row[c.article_id] for c in chunks], dtype=np.int32),
            chunk_start=np.array([c.start for c in chunks], dtype=np.int32),
            chunk_end=np.array([c.end for c in chunks], dtype=np.int32),
            hashes=np.array(hashes, dtype=np.int64),
            vectors=vector_index(vectors, ann_min_chunks), postings=Postings.build(embedding_texts),
            minhash=signatures([a.text for a in articles]),
        )

    @classmethod
    def merge(cls, name: str, parts: Sequence[tuple["Segment", np.ndarray | None]], ann_min_chunks: int) -> "Segment":
        """One segment of the live articles of `parts`: (segment, live article mask or None).

        Vectors and postings are copied, not recomputed: nothing is embedded or tokenized.
        """
        headers, checksums, texts, arts, starts, ends, hashes, vecs, post, sigs = [], [], [], [], [], [], [], [], [], []
        for seg, live in parts:
            keep_articles = np.ones(len(seg.headers), bool) if live is None else live
            new_row = np.cumsum(keep_articles) - 1 + len(headers)
            for r in np.flatnonzero(keep_articles):
                headers.append(seg.headers[r])
                checksums.append(seg.checksums[r])
                texts.append(seg.texts[int(r)])
            keep = keep_articles[seg.chunk_article] if seg.n_chunks else np.zeros(0, bool)
            rows = np.flatnonzero(keep)
            arts.append(new_row[seg.chunk_article[rows]])
            starts.append(seg.chunk_start[rows])
            ends.append(seg.chunk_end[rows])
            hashes.append(seg.hashes[rows])
            vecs.append(seg.vectors_of(rows))
            post.append((seg.postings, None if live is None else keep))
            sigs.append(seg.signatures()[keep_articles])
        dim = parts[0][0].vectors.d

        def cat(xs, dtype):
            return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)

        vectors = np.concatenate(vecs) if vecs else np.zeros((0, dim), np.float32)
        return cls(
            name=name, headers=tuple(headers), checksums=tuple(checksums), texts=_Texts(texts),
            chunk_article=cat(arts, np.int32), chunk_start=cat(starts, np.int32), chunk_end=cat(ends, np.int32),
            hashes=cat(hashes, np.int64), vectors=vector_index(vectors, ann_min_chunks),
            postings=Postings.merge(post), minhash=np.concatenate(sigs),
        )

    # --- files -----------------------------------------------------------------------
    def file_bytes(self) -> Iterable[tuple[str, bytes]]:
        """(file name, contents) in `FILES` order, produced one at a time (a file can be large)."""
        import faiss

        yield "vectors.faiss", faiss.serialize_index(self.vectors).tobytes()
        blob, offsets = self.texts.encoded()
        records = [h.to_dict() | {"checksum": c, "at": [int(offsets[i]), int(offsets[i + 1])]}
                   for i, (h, c) in enumerate(zip(self.headers, self.checksums))]
        yield "articles.json", json.dumps(records, ensure_ascii=False).encode("utf-8")
        chunks = np.stack([self.chunk_article.astype(np.int64), self.chunk_start.astype(np.int64),
                           self.chunk_end.astype(np.int64), self.hashes.astype(np.int64)], axis=1) if self.n_chunks \
            else np.zeros((0, 4), np.int64)
        yield "chunks.npy", _npy(chunks)
        yield "texts.bin", blob
        yield "bm25.npz", self.postings.to_bytes()
        yield "minhash.npy", _npy(self.signatures())

    @classmethod
    def read(cls, folder: Path, dim: int, with_minhash: bool = True, check=lambda name: None) -> "Segment":
        """Parse a segment folder; `check(file name)` runs before each file is parsed and raises
        if it must not be (qa/store.py verifies its checksum there). `with_minhash` False: the
        folder has no minhash.npy to read (an earlier version's).

        The vectors are read in a second thread (FAISS runs without the GIL) while this one
        parses the rest, each file as soon as its check passes. Raises ValueError (or what a parser raises) on content of the wrong shape."""
        import faiss

        from concurrent.futures import ThreadPoolExecutor

        def read_vectors():
            check("vectors.faiss")
            return faiss.read_index(str(folder / "vectors.faiss"))

        with ThreadPoolExecutor(1) as pool:
            reading = pool.submit(read_vectors)
            parts = cls._read_rest(folder, with_minhash, check)
            vectors = reading.result()
        if vectors.d != dim:
            raise ValueError(f"vectors.faiss holds {vectors.d}-dim vectors, the manifest says {dim}")
        return cls(name=folder.name, vectors=vectors, **parts)

    @staticmethod
    def _read_rest(folder: Path, with_minhash: bool, check) -> dict:
        """The fields of a segment from its files other than vectors.faiss."""
        check("articles.json")
        records = json.loads((folder / "articles.json").read_text("utf-8"))
        if not isinstance(records, list):
            raise ValueError("articles.json is not a list")
        headers, checksums, offsets = [], [], [0]
        for r in records:
            a, b = r.pop("at")
            if a != offsets[-1] or b < a:
                raise ValueError(f"articles.json: text offsets {a}..{b} of {r.get('id')!r} do not follow on")
            offsets.append(b)
            checksums.append(r.pop("checksum"))
            headers.append(ArticleHeader(**r))
        check("texts.bin")  # read by offset when an article is cited
        if offsets[-1] != (folder / "texts.bin").stat().st_size:
            raise ValueError("texts.bin is not as long as articles.json says")
        check("chunks.npy")
        with open(folder / "chunks.npy", "rb") as f:
            chunks = np.load(f, allow_pickle=False)
        if chunks.ndim != 2 or chunks.shape[1] != 4:
            raise ValueError(f"chunks.npy has shape {chunks.shape}, not (n, 4)")
        check("bm25.npz")
        postings = Postings.from_bytes((folder / "bm25.npz").read_bytes())
        minhash = None
        if with_minhash:
            check("minhash.npy")
            with open(folder / "minhash.npy", "rb") as f:
                minhash = np.load(f, allow_pickle=False)
        return dict(
            headers=tuple(headers), checksums=tuple(checksums),
            texts=_Texts(path=folder / "texts.bin", offsets=np.array(offsets, dtype=np.int64)),
            chunk_article=chunks[:, 0].astype(np.int32), chunk_start=chunks[:, 1].astype(np.int32),
            chunk_end=chunks[:, 2].astype(np.int32), hashes=chunks[:, 3].copy(), postings=postings, minhash=minhash,
        )


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day_number(iso: str | None) -> int | None:
    """20190105 for "2019-01-05": ISO days order as these integers do; None for anything else.

    >>> _day_number("2019-01-05"), _day_number("2019-01")
    (20190105, None)
    """
    return int(iso.replace("-", "")) if iso and _ISO_DAY.fullmatch(iso) else None


def _day_columns(headers) -> tuple[np.ndarray, np.ndarray]:
    """Each article's first and last day (an article dated "2023-12" spans December) as
    YYYYMMDD integers, 0 when undated: one integer compare per article instead of a string one."""
    spans = [date_span(h.date) if h.date else ("", "") for h in headers]
    first = np.array([_day_number(a) or 0 for a, _ in spans], dtype=np.int64)
    last = np.array([_day_number(b) or 0 for _, b in spans], dtype=np.int64)
    return first, last


def vector_index(vectors: np.ndarray, ann_min_chunks: int):
    """FAISS over `vectors`: exact below `ann_min_chunks` rows, an inverted file from there on."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n < max(ann_min_chunks, 1):
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index
    lists = ivf_lists(n)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, min(n, lists * IVF_TRAIN_PER_LIST), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.make_direct_map()  # row -> (cell, offset): what reconstruct needs for merges and exact filters
    return index


def ivf_lists(n: int) -> int:
    """Cells of an inverted file over n vectors (see IVF_LISTS_PER_SQRT).

    >>> ivf_lists(1_000_000), ivf_lists(100_000), ivf_lists(1_000)
    (4096, 1024, 16)
    """
    lists = 2 ** round(np.log2(IVF_LISTS_PER_SQRT * np.sqrt(n)))
    while lists > 1 and lists * IVF_TRAIN_PER_LIST > n:
        lists //= 2
    return int(lists)


def _is_flat(index) -> bool:
    import faiss

    return isinstance(index, faiss.IndexFlat)


def _npy(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()
