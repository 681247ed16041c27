"""Making index snapshots: adding articles as a new segment, removing them, merging segments.

Every function here returns a new `Index` (qa/index.py) and leaves its argument untouched,
so a server keeps answering from the old snapshot until the new one is saved and swapped.

Decisions:
- New articles become one new segment; a removed or replaced article is marked deleted on
  its segment, so adding one article costs what that article costs.
- An embedding is never computed twice: each chunk's embedding text is hashed
  (`segment.text_hash`), and a new chunk whose text some live chunk already has (a wire
  copy's unchanged paragraphs, a re-ingested file, the unchanged part of an edited
  article) reuses that chunk's stored vector.
- `merge_policy` merges the newest segments when `merge_factor` of them have piled up at
  one size tier (Lucene's log merge policy), so there are O(log n) segments and each chunk
  is rewritten O(log n) times; `optimize` merges all of them.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from qa.chunking import chunk_article
from qa.config import Config
from qa.embed import Embedder
from qa.errors import QAError
from qa.index import Index, embedding_text
from qa.segment import Segment, text_hash
from qa.types import Article, Chunk


def segment_name() -> str:
    return f"seg-{time.time_ns():x}-{uuid.uuid4().hex[:6]}"



def empty_index(embedder: Embedder, config: Config) -> Index:
    return Index(model=embedder.name, dim=embedder.dim, max_tokens=config.chunk_max_tokens,
                 overlap_tokens=config.chunk_overlap_tokens, backend=embedder.backend)


def build_index(articles: Sequence[Article], embedder: Embedder, config: Config, progress: bool = False) -> Index:
    """Chunk and embed every article. Later articles with an id already seen are ignored."""
    return add_articles(empty_index(embedder, config), articles, embedder, config, progress=progress).index


def _check_chunker(index: Index, embedder: Embedder) -> None:
    if index.backend is not None and index.chunk_count and _int8(index.backend) != _int8(embedder.backend):
        # Checked first: it needs no model loaded. torch and onnx (fp32) give the same vectors;
        # int8 ones differ (cosine ~0.99 to fp32), so the two are never mixed in one index.
        raise QAError(
            f"the index's vectors were made with embedding_backend {index.backend!r}, the configured one is "
            f"{embedder.backend!r}; set embedding_backend = \"{index.backend}\" or run `qa index build` to rebuild"
        )
    if index.model != embedder.name or index.dim != embedder.dim:
        raise QAError(
            f"the index was built with {index.model} ({index.dim} dims) but the configured model is "
            f"{embedder.name} ({embedder.dim} dims); run `qa index build` to rebuild"
        )
    limit = embedder.max_tokens
    if index.max_tokens > limit:
        raise QAError(f"chunk_max_tokens={index.max_tokens} exceeds what {embedder.name} reads ({limit}); lower it")


def _int8(backend: str) -> bool:
    return backend.endswith("int8")


@dataclass(frozen=True)
class Prepared:
    """Chunks and vectors made elsewhere for `add_articles` to use instead of chunking and
    embedding here: the workers of a Ray build (qa/ray_build.py) do both on a cluster."""

    chunks: Mapping[str, Sequence[Chunk]]  # article id -> its chunks
    vectors: Mapping[int, np.ndarray]  # text hash -> vector, for every text the index does not hold yet
    chunker: tuple[int, int]  # (max_tokens, overlap_tokens) the chunks were made with

    def embed(self, hashes: Sequence[int]) -> np.ndarray:
        missing = [h for h in hashes if h not in self.vectors]
        if missing:  # the driver sends every text the index lacks: a gap is a bug, not a user error
            raise QAError(f"{len(missing)} chunk vectors did not come back from the workers; run the build again")
        return np.stack([self.vectors[h] for h in hashes])


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
    reuse: Index | None = None, prepared: Prepared | None = None,
) -> Added:
    """A new index with `articles` added as one new segment (then the merge policy runs).

    Only chunks whose embedding text no live chunk of `index` (or of `reuse`, e.g. the index
    a rebuild replaces) already has are embedded: here, or taken from `prepared`, which
    then also gives each article's chunks.
    """
    _check_chunker(index, embedder)
    if prepared is not None and prepared.chunker != (index.max_tokens, index.overlap_tokens):
        raise QAError(f"the articles were chunked with (max, overlap) tokens {prepared.chunker} but the index holds "
                      f"chunks of {(index.max_tokens, index.overlap_tokens)}; rebuild with `qa index build`")
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
    chunks = [c for a in new.values() for c in (
        prepared.chunks[a.id] if prepared is not None
        else chunk_article(a, embedder.count_tokens, index.max_tokens, index.overlap_tokens))]
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
    if todo and prepared is not None:
        vectors[todo] = prepared.embed([int(hashes[i]) for i in todo])
    elif todo:
        vectors[todo] = embedder.embed([texts[i] for i in todo], batch_size=config.embedding_batch_size, progress=progress)
    for i, h in enumerate(hashes.tolist()):
        if not found[i] and first[h] != i:
            vectors[i] = vectors[first[h]]
    segment = Segment.build(segment_name(), list(new.values()), chunks, vectors, hashes.tolist(), texts,
                            config.ann_min_chunks)
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
    return index.with_segments(tuple(segments[i] for i in keep), tuple(deleted[i] for i in keep))


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
        sizes = [index.live_chunk_count(s) for s in range(len(segs))]
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
    merged = Segment.merge(segment_name(), parts, config.ann_min_chunks)
    return index.with_segments(index.segments[:start] + (merged,) + index.segments[stop:],
                               index.deleted[:start] + (frozenset(),) + index.deleted[stop:])


def optimize(index: Index, config: Config) -> Index:
    """All segments merged into one, deleted articles dropped, searched through an inverted file if it has
    `ann_min_chunks` chunks (`qa index optimize`, and the end of a bulk build)."""
    if len(index.segments) == 1 and not any(index.deleted) and \
            index.segments[0].is_ann == (index.segments[0].n_chunks >= config.ann_min_chunks):
        return index
    if not index.segments:
        return index
    return merge_segments(index, 0, len(index.segments), config)
