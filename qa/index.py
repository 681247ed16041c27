"""The index: segments of articles, chunks, vectors and BM25 postings, searched as one.

An `Index` is a snapshot that is never modified in place: `add_articles` and
`remove_articles` (qa/indexing.py) return a new one that shares every unchanged segment with the old. A
server answering questions while articles are added keeps using the old snapshot until the
new one is complete, then swaps one reference.

Decisions:
- Segments (qa/segment.py), made and merged by qa/indexing.py; a removed or replaced
  article is marked deleted on its segment (`Index.deleted`).
- A chunk is addressed by its position in the concatenation of all segments' rows
  (deleted rows included, never returned): `Index.chunk_at(address)`.
- `vectors_by_hash` finds the stored vector of an embedding text, so none is computed twice.
- Article texts stay on disk until cited (`Index.articles[id]` reads one); metadata for
  every article is in memory (`Index.headers`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np

from qa import bm25
from qa.errors import QAError
from qa.segment import Memo, Segment
from qa.types import Article, ArticleHeader, Chunk, Filters

FORMAT_VERSION = 2
ARTICLE_CACHE = 256  # full articles (with text) kept per snapshot; the rest are read when cited


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its article's title gives context."""
    return f"{article.title}. {chunk.text}" if article.title and article.title not in chunk.text else chunk.text


@dataclass(frozen=True)
class Index:
    model: str
    dim: int
    max_tokens: int
    overlap_tokens: int
    segments: tuple[Segment, ...] = ()
    deleted: tuple[frozenset[str], ...] = ()  # per segment: its articles that were removed or replaced
    backend: str | None = None  # what embedded the chunks ("torch", "onnx", "onnx-int8"); None: not recorded
    _memo: Memo = field(default_factory=Memo, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.deleted and self.segments:
            object.__setattr__(self, "deleted", tuple(frozenset() for _ in self.segments))
        if len(self.deleted) != len(self.segments):
            raise QAError("index is inconsistent: deletions listed for a segment that is not there")
        for seg in self.segments:
            if seg.vectors.d != self.dim:
                raise QAError(
                    f"index is inconsistent: segment {seg.name} holds {seg.vectors.d}-dim vectors but the index "
                    f"is {self.dim}-dim; rebuild it with `qa index build`"
                )

    def with_segments(self, segments: tuple[Segment, ...], deleted: tuple[frozenset[str], ...]) -> "Index":
        """This index's settings (model, chunker, backend) over other segments: a new snapshot,
        with its own memo (nothing computed for this one carries over)."""
        return replace(self, segments=segments, deleted=deleted, _memo=Memo())

    def _once(self, name: str, compute):
        """`compute()`, computed once per snapshot (a snapshot never changes) and kept on it."""
        return self._memo.get(name, compute)

    # --- articles ----------------------------------------------------------------------
    def _where(self) -> dict[str, tuple[int, int]]:
        """{article id: (segment, row)} of every live article, in corpus order."""
        def compute():
            out: dict[str, tuple[int, int]] = {}
            for s, (seg, gone) in enumerate(zip(self.segments, self.deleted)):
                for r, h in enumerate(seg.headers):
                    if h.id not in gone:
                        out[h.id] = (s, r)
            return out
        return self._once("where", compute)

    @property
    def articles(self) -> "Articles":
        return self._once("articles", lambda: Articles(self))

    def headers(self) -> Iterator[ArticleHeader]:
        """Every live article's metadata, in corpus order, without reading any text."""
        for s, r in self._where().values():
            yield self.segments[s].headers[r]

    def _article(self, s: int, r: int) -> Article:
        cache: OrderedDict = self._once("article_cache", OrderedDict)
        with self._memo.lock:
            a = cache.get((s, r))
            if a is not None:
                cache.move_to_end((s, r))
                return a
        a = self.segments[s].article(r)
        with self._memo.lock:
            cache[(s, r)] = a
            while len(cache) > ARTICLE_CACHE:
                cache.popitem(last=False)
        return a

    def checksum_of(self, article_id: str) -> str | None:
        where = self._where().get(article_id)
        return None if where is None else self.segments[where[0]].checksums[where[1]]

    def article_of(self, chunk: Chunk) -> Article:
        return self.articles[chunk.article_id]

    def wire_groups(self) -> dict[str, tuple[str, ...]]:
        """{article id: its wire-copy group, in corpus order} for articles with a near-duplicate
        (qa/wire.py); computed once per snapshot, when first asked, from the signatures and
        band keys each segment keeps."""
        from qa.wire import wire_groups

        def compute():
            ids, sigs, keys = [], [], []
            for s, seg in enumerate(self.segments):
                live = self.live_articles(s)
                rows = np.arange(len(seg.headers)) if live is None else np.flatnonzero(live)
                ids.extend(seg.headers[r].id for r in rows)
                sigs.append(seg.signatures()[rows])
                keys.append(seg.band_keys()[rows])
            if not ids:
                return {}
            return wire_groups(ids, np.concatenate(sigs), np.concatenate(keys))

        return self._once("wire_groups", compute)

    def undated_count(self) -> int:
        """Articles without a date: what any date filter leaves out."""
        return self._once("undated", lambda: sum(1 for h in self.headers() if not h.date))

    def newest_date(self) -> str | None:
        """The latest article date (ISO, possibly partial), or None when no article is dated."""
        return self._once("newest", lambda: max((h.date for h in self.headers() if h.date), default=None))

    # --- chunks ------------------------------------------------------------------------
    def _offsets(self) -> np.ndarray:
        return self._once("offsets", lambda: np.cumsum([0] + [s.n_chunks for s in self.segments]))

    def live_articles(self, s: int) -> np.ndarray | None:
        """Which article rows of segment `s` are live (None: all of them)."""
        def compute():
            return [None if not gone else np.array([h.id not in gone for h in seg.headers], dtype=bool)
                    for seg, gone in zip(self.segments, self.deleted)]
        return self._once("live_articles", compute)[s]

    def live_rows(self, s: int) -> np.ndarray | None:
        """Which chunk rows of segment `s` are live (None: all of them)."""
        def compute():
            return [None if self.live_articles(i) is None else self.live_articles(i)[seg.chunk_article]
                    for i, seg in enumerate(self.segments)]
        return self._once("live_rows", compute)[s]

    def live_row_ids(self, s: int) -> np.ndarray:
        """The live chunk rows of segment `s`, in order."""
        live = self.live_rows(s)
        return np.arange(self.segments[s].n_chunks) if live is None else np.flatnonzero(live)

    def live_chunk_count(self, s: int) -> int:
        live = self.live_rows(s)
        return self.segments[s].n_chunks if live is None else int(live.sum())

    def live_article_count(self, s: int) -> int:
        live = self.live_articles(s)
        return len(self.segments[s].headers) if live is None else int(live.sum())

    @property
    def chunk_count(self) -> int:
        return self._once("chunk_count", lambda: sum(self.live_chunk_count(s) for s in range(len(self.segments))))

    @property
    def chunks(self) -> "Chunks":
        """The live chunks in corpus order, as a sequence (built one at a time when read)."""
        return self._once("chunks", lambda: Chunks(self))

    def locate(self, address: int) -> tuple[int, int]:
        s = int(np.searchsorted(self._offsets(), address, side="right")) - 1
        return s, address - int(self._offsets()[s])

    def chunk_at(self, address: int) -> Chunk:
        s, r = self.locate(address)
        seg = self.segments[s]
        return seg.chunk(r, self._article(s, int(seg.chunk_article[r])))

    def chunk_counts(self) -> dict[str, int]:
        """{article id: its number of chunks}, in corpus order."""
        per_row = [np.bincount(seg.chunk_article, minlength=len(seg.headers)) for seg in self.segments]
        return {aid: int(per_row[s][r]) for aid, (s, r) in self._where().items()}

    @property
    def vectors(self) -> np.ndarray:
        """Every live chunk's vector, in `chunks` order (a copy: for checks and tools, not search)."""
        parts = [seg.vectors_of(self.live_row_ids(s)) for s, seg in enumerate(self.segments)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def terms(self) -> set[str]:
        """Every term of the live archive: a removed article's words are not in it (they stay
        in its segment's postings until a merge rewrites them)."""
        return self._once("terms", lambda: set().union(*(seg.postings.terms_of(self.live_rows(s))
                                                         for s, seg in enumerate(self.segments))))

    # --- search ------------------------------------------------------------------------
    def eligible(self, filters: Filters | None) -> list[np.ndarray | None] | None:
        """Per segment, which chunk rows a search may return (None: all); None when all may."""
        masks: list[np.ndarray | None] = []
        for s, seg in enumerate(self.segments):
            live = self.live_rows(s)
            if filters is not None and not filters.is_empty():
                ok = seg.article_mask(filters)[seg.chunk_article]
                live = ok if live is None else (ok & live)
            masks.append(live)
        return None if all(m is None for m in masks) else masks

    def dense_search(self, query: np.ndarray, k: int, masks: list[np.ndarray | None] | None,
                     nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """The k chunk addresses most similar to `query` (1, dim), best first: (addresses, cosines)."""
        addrs, scores = [], []
        for s, seg in enumerate(self.segments):
            rows, sc = seg.search(query, k, None if masks is None else masks[s], nprobe)
            addrs.append(rows + int(self._offsets()[s]))
            scores.append(sc)
        return _top(addrs, scores, k)

    def bm25_search(self, query: str, k: int, masks: list[np.ndarray | None] | None) -> tuple[np.ndarray, np.ndarray]:
        """The k best BM25 chunk addresses with a positive score, best first."""
        live = [(seg.postings, self.live_rows(s)) for s, seg in enumerate(self.segments)]
        stats = self._once("bm25_stats", lambda: bm25.Stats.of(live))
        # Statistics count the live chunks whatever the filter: a filter narrows where to look,
        # not how rare a word is in the archive.
        best = bm25.top(live, query, k, stats, masks)
        offsets = self._offsets()
        return _top([docs + int(offsets[s]) for s, (docs, _) in enumerate(best)], [sc for _, sc in best], k)

    def vectors_by_hash(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each text hash, whether a live chunk has it, and that chunk's vector (else zeros).

        Each segment keeps its hashes sorted (computed once per segment, which never changes),
        so a lookup costs O(log n) per hash and no work per snapshot.
        """
        found = np.zeros(len(hashes), dtype=bool)
        out = np.zeros((len(hashes), self.dim), np.float32)
        for s, seg in enumerate(self.segments):
            if found.all():
                break
            rows = seg.rows_with_hashes(hashes)  # -1 where the segment lacks the hash
            live = self.live_rows(s)
            take = (rows >= 0) & ~found
            if live is not None:
                take &= live[np.maximum(rows, 0)]
            if take.any():
                out[take] = seg.vectors_of(rows[take])
                found |= take
        return found, out


class Articles(Mapping):
    """`index.articles[id]` -> the full Article (text read from disk when not cached)."""

    def __init__(self, index: Index) -> None:
        self._index = index

    def __getitem__(self, article_id: str) -> Article:
        where = self._index._where().get(article_id)
        if where is None:
            raise KeyError(article_id)
        return self._index._article(*where)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index._where())

    def __len__(self) -> int:
        return len(self._index._where())

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._index._where()


class Chunks(Sequence):
    """The live chunks of an index in corpus order; `chunks[i]` builds one Chunk."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._addresses = np.concatenate(
            [index.live_row_ids(s) + int(index._offsets()[s]) for s in range(len(index.segments))]
        ) if index.segments else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._addresses)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._index.chunk_at(int(self._addresses[i]))


def _top(addrs: list[np.ndarray], scores: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    if not addrs:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    a, s = np.concatenate(addrs), np.concatenate(scores).astype(np.float32)
    order = np.lexsort((a, -s))[:k]  # best score first; ties to the earlier chunk, as one index would
    return a[order], s[order]
