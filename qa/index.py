"""The index: segments of articles, chunks, vectors and BM25 postings, searched as one.

An `Index` is a snapshot that is never modified in place: `add_articles` and
`remove_articles` return a new one that shares every unchanged segment with the old. A
server answering questions while articles are added keeps using the old snapshot until the
new one is complete, then swaps one reference.

Decisions:
- Segments (qa/segment.py): new articles become a new segment; a removed or replaced
  article is marked deleted on its segment (`Index.deleted`), so adding one article costs
  what that article costs. `merge_policy` merges the newest segments when `merge_factor`
  of them have piled up at one size tier (Lucene's log merge policy), so there are
  O(log n) segments and each chunk is rewritten O(log n) times; `optimize` merges all.
- A chunk is addressed by its position in the concatenation of all segments' rows
  (deleted rows included, never returned): `Index.chunk_at(address)`.
- An embedding is never computed twice: each chunk's embedding text is hashed
  (`segment.text_hash`), and a new chunk whose text some live chunk already has (a wire
  copy's unchanged paragraphs, a re-ingested file, the unchanged part of an edited
  article) reuses that chunk's stored vector.
- Article texts stay on disk until cited (`Index.articles[id]` reads one); metadata for
  every article is in memory (`Index.headers`).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from qa import bm25
from qa.chunking import chunk_article
from qa.config import Config
from qa.embed import Embedder
from qa.errors import QAError
from qa.segment import Segment, text_hash
from qa.types import Article, ArticleHeader, Chunk, Filters

FORMAT_VERSION = 2
ARTICLE_CACHE = 256  # full articles (with text) kept per snapshot; the rest are read when cited


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its article's title gives context."""
    return f"{article.title}. {chunk.text}" if article.title and article.title not in chunk.text else chunk.text


def segment_name() -> str:
    return f"seg-{time.time_ns():x}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Index:
    model: str
    dim: int
    max_tokens: int
    overlap_tokens: int
    segments: tuple[Segment, ...] = ()
    deleted: tuple[frozenset[str], ...] = ()  # per segment: its articles that were removed or replaced
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

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
        self._cache["lock"] = threading.RLock()

    def _once(self, name: str, compute):
        """`compute()`, computed once per snapshot (a snapshot never changes) and kept on it."""
        if name not in self._cache:
            with self._cache["lock"]:
                if name not in self._cache:
                    self._cache[name] = compute()
        return self._cache[name]

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
        with self._cache["lock"]:
            a = cache.get((s, r))
            if a is not None:
                cache.move_to_end((s, r))
                return a
        a = self.segments[s].article(r)
        with self._cache["lock"]:
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
        (qa/wire.py); computed once per snapshot, when first asked."""
        from qa.wire import wire_groups

        def signed():
            for aid, (s, r) in self._where().items():
                yield aid, self.segments[s].signatures()[r]

        return self._once("wire_groups", lambda: wire_groups(self.articles, signed=signed()))

    def undated_count(self) -> int:
        """Articles without a date: what any date filter leaves out."""
        return self._once("undated", lambda: sum(1 for h in self.headers() if not h.date))

    def newest_date(self) -> str | None:
        """The latest article date (ISO, possibly partial), or None when no article is dated."""
        return self._once("newest", lambda: max((h.date for h in self.headers() if h.date), default=None))

    # --- chunks ------------------------------------------------------------------------
    def _offsets(self) -> np.ndarray:
        return self._once("offsets", lambda: np.cumsum([0] + [s.n_chunks for s in self.segments]))

    def live_rows(self, s: int) -> np.ndarray | None:
        """Which chunk rows of segment `s` are live (None: all of them)."""
        def compute():
            out = []
            for seg, gone in zip(self.segments, self.deleted):
                if not gone:
                    out.append(None)
                    continue
                dead_articles = np.array([h.id in gone for h in seg.headers], dtype=bool)
                out.append(~dead_articles[seg.chunk_article])
            return out
        return self._once("live", compute)[s]

    def live_articles(self, s: int) -> np.ndarray | None:
        gone = self.deleted[s]
        return None if not gone else np.array([h.id not in gone for h in self.segments[s].headers], dtype=bool)

    @property
    def chunk_count(self) -> int:
        return self._once("chunk_count", lambda: sum(
            seg.n_chunks if self.live_rows(s) is None else int(self.live_rows(s).sum()) for s, seg in enumerate(self.segments)))

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
        counts = dict.fromkeys(self._where(), 0)
        for s, seg in enumerate(self.segments):
            live = self.live_rows(s)
            per_row = np.bincount(seg.chunk_article if live is None else seg.chunk_article[live], minlength=len(seg.headers))
            for r, h in enumerate(seg.headers):
                if h.id in counts and self._where()[h.id] == (s, r):
                    counts[h.id] = int(per_row[r])
        return counts

    @property
    def vectors(self) -> np.ndarray:
        """Every live chunk's vector, in `chunks` order (a copy: for checks and tools, not search)."""
        parts = [seg.vectors_of(np.arange(seg.n_chunks) if self.live_rows(s) is None else np.flatnonzero(self.live_rows(s)))
                 for s, seg in enumerate(self.segments)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def terms(self) -> set[str]:
        """Every term BM25 knows in the archive."""
        return self._once("terms", lambda: set().union(*(seg.postings.vocab for seg in self.segments)))

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
                     ef_search: int) -> tuple[np.ndarray, np.ndarray]:
        """The k chunk addresses most similar to `query` (1, dim), best first: (addresses, cosines)."""
        addrs, scores = [], []
        for s, seg in enumerate(self.segments):
            rows, sc = seg.search(query, k, None if masks is None else masks[s], ef_search)
            addrs.append(rows + int(self._offsets()[s]))
            scores.append(sc)
        return _top(addrs, scores, k)

    def bm25_search(self, query: str, k: int, masks: list[np.ndarray | None] | None) -> tuple[np.ndarray, np.ndarray]:
        """The k best BM25 chunk addresses with a positive score, best first."""
        parts = [(seg.postings, None if masks is None else masks[s]) for s, seg in enumerate(self.segments)]
        live = [(seg.postings, self.live_rows(s)) for s, seg in enumerate(self.segments)]
        stats = self._once("bm25_stats", lambda: bm25.Stats.of(live))
        # Statistics count the live chunks whatever the filter: a filter narrows where to look,
        # not how rare a word is in the archive.
        per_segment = bm25.scores(live, query, stats)
        addrs, scores = [], []
        for s, (sc, (_, mask)) in enumerate(zip(per_segment, parts)):
            if mask is not None:
                sc = np.where(mask, sc, 0.0)
            hits = np.flatnonzero(sc > 0)
            if len(hits) > k:
                hits = hits[np.argpartition(-sc[hits], k - 1)[:k]]
            addrs.append(hits + int(self._offsets()[s]))
            scores.append(sc[hits])
        return _top(addrs, scores, k)

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
            [np.arange(seg.n_chunks) + int(index._offsets()[s]) if index.live_rows(s) is None
             else np.flatnonzero(index.live_rows(s)) + int(index._offsets()[s]) for s, seg in enumerate(index.segments)]
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


# --- making snapshots ------------------------------------------------------------------


def empty_index(embedder: Embedder, config: Config) -> Index:
    return Index(model=embedder.name, dim=embedder.dim, max_tokens=config.chunk_max_tokens,
                 overlap_tokens=config.chunk_overlap_tokens)


def build_index(articles: Sequence[Article], embedder: Embedder, config: Config, progress: bool = False) -> Index:
    """Chunk and embed every article. Later articles with an id already seen are ignored."""
    return add_articles(empty_index(embedder, config), articles, embedder, config, progress=progress).index


def _check_chunker(index: Index, embedder: Embedder) -> None:
    if index.model != embedder.name or index.dim != embedder.dim:
        raise QAError(
            f"the index was built with {index.model} ({index.dim} dims) but the configured model is "
            f"{embedder.name} ({embedder.dim} dims); run `qa index build` to rebuild"
        )
    limit = embedder.max_tokens
    if index.max_tokens > limit:
        raise QAError(f"chunk_max_tokens={index.max_tokens} exceeds what {embedder.name} reads ({limit}); lower it")


@dataclass(frozen=True)
class Added:
    """What `add_articles` made: the new snapshot, a status per article id ("added",
    "updated" or "unchanged"), and how many chunks were embedded or reused a stored vector."""

    index: Index
    status: dict[str, str]
    embedded: int = 0
    reused: int = 0


def add_articles(
    index: Index, articles: Iterable[Article], embedder: Embedder, config: Config, progress: bool = False,
    reuse: Index | None = None,
) -> Added:
    """A new index with `articles` added as one new segment (then the merge policy runs).

    Only chunks whose embedding text no live chunk of `index` (or of `reuse`, e.g. the index
    a rebuild replaces) already has are embedded.
    """
    _check_chunker(index, embedder)
    status: dict[str, str] = {}
    new: dict[str, Article] = {}
    for a in articles:
        if a.id in status:
            continue
        old = index.checksum_of(a.id)
        if old is not None and old == a.checksum:
            status[a.id] = "unchanged"
            continue
        status[a.id] = "updated" if old is not None else "added"
        new[a.id] = a
    if not new:
        return Added(index, status)
    chunks = [c for a in new.values() for c in chunk_article(a, embedder.count_tokens, index.max_tokens, index.overlap_tokens)]
    texts = [embedding_text(new[c.article_id], c) for c in chunks]
    hashes = np.array([text_hash(t) for t in texts], dtype=np.int64)
    found, vectors = index.vectors_by_hash(hashes)
    if reuse is not None and reuse.dim == index.dim and reuse.model == index.model and not found.all():
        more, their = reuse.vectors_by_hash(hashes)
        take = more & ~found
        vectors[take] = their[take]
        found |= take
    first: dict[int, int] = {}  # text hash -> the first new chunk that has it
    todo = []
    for i, h in enumerate(hashes.tolist()):
        if not found[i] and first.setdefault(h, i) == i:
            todo.append(i)
    if todo:
        vectors[todo] = embedder.embed([texts[i] for i in todo], batch_size=config.embedding_batch_size, progress=progress)
    for i, h in enumerate(hashes.tolist()):
        if not found[i] and first[h] != i:
            vectors[i] = vectors[first[h]]
    segment = Segment.build(segment_name(), list(new.values()), chunks, vectors, hashes.tolist(), texts,
                            config.ann_min_chunks, config.hnsw_m)
    where = index._where()
    deleted = [set(d) for d in index.deleted]
    for aid, state in status.items():
        if state == "updated":
            deleted[where[aid][0]].add(aid)
    grown = _without_dead(index, index.segments + (segment,), tuple(frozenset(d) for d in deleted) + (frozenset(),))
    return Added(merge_policy(grown, config), status, embedded=len(todo), reused=len(chunks) - len(todo))


def remove_article(index: Index, article_id: str) -> Index:
    return remove_articles(index, [article_id])


def remove_articles(index: Index, article_ids: Iterable[str]) -> Index:
    """A new index without these articles. Nothing is rewritten: they are marked deleted on
    their segments (a segment left with no live article is dropped), and BM25's statistics
    count only live chunks, so scores are as if they had never been indexed.
    """
    gone = set(article_ids)
    where = index._where()
    missing = sorted(gone - where.keys())
    if missing:
        raise QAError(f"no article with id {missing[0]!r} in the index; `qa index stats` lists the ids")
    deleted = [set(d) for d in index.deleted]
    for aid in gone:
        deleted[where[aid][0]].add(aid)
    return _without_dead(index, index.segments, tuple(frozenset(d) for d in deleted))


def _without_dead(index: Index, segments: tuple[Segment, ...], deleted: tuple[frozenset[str], ...]) -> Index:
    keep = [i for i, (seg, d) in enumerate(zip(segments, deleted)) if len(d) < len(seg.headers)]
    return Index(model=index.model, dim=index.dim, max_tokens=index.max_tokens, overlap_tokens=index.overlap_tokens,
                 segments=tuple(segments[i] for i in keep), deleted=tuple(deleted[i] for i in keep))


def _tier(n_chunks: int, factor: int) -> int:
    return int(math.log(max(n_chunks, 1), factor)) if factor > 1 else 0


def merge_policy(index: Index, config: Config) -> Index:
    """Merge the newest `merge_factor` segments while they share one size tier (tier t holds
    merge_factor^t to merge_factor^(t+1) live chunks): a counter in base merge_factor, so a
    big segment is rewritten only when merge_factor segments of its size exist. Segments of
    mixed sizes that never line up are bounded too: past 4 x merge_factor segments the two
    smallest neighbours merge."""
    factor = config.merge_factor
    while True:
        segs = index.segments
        sizes = [seg.n_chunks if index.live_rows(s) is None else int(index.live_rows(s).sum()) for s, seg in enumerate(segs)]
        tiers = [_tier(n, factor) for n in sizes]
        run = None
        if len(segs) >= factor and len(set(tiers[-factor:])) == 1:
            run = (len(segs) - factor, len(segs))
        elif len(segs) > 4 * factor:
            i = min(range(len(segs) - 1), key=lambda j: sizes[j] + sizes[j + 1])
            run = (i, i + 2)
        if run is None:
            return index
        index = merge_segments(index, *run, config=config)


def merge_segments(index: Index, start: int, stop: int, config: Config) -> Index:
    """The index with segments[start:stop] merged into one (their deleted articles dropped)."""
    parts = [(index.segments[s], index.live_articles(s)) for s in range(start, stop)]
    merged = Segment.merge(segment_name(), parts, config.ann_min_chunks, config.hnsw_m)
    return Index(model=index.model, dim=index.dim, max_tokens=index.max_tokens, overlap_tokens=index.overlap_tokens,
                 segments=index.segments[:start] + (merged,) + index.segments[stop:],
                 deleted=index.deleted[:start] + (frozenset(),) + index.deleted[stop:])


def optimize(index: Index, config: Config) -> Index:
    """All segments merged into one, deleted articles dropped, searched through HNSW if it has
    `ann_min_chunks` chunks (`qa index optimize`, and the end of a bulk build)."""
    if len(index.segments) == 1 and not any(index.deleted) and \
            index.segments[0].is_ann == (index.segments[0].n_chunks >= config.ann_min_chunks):
        return index
    if not index.segments:
        return index
    return merge_segments(index, 0, len(index.segments), config)
