"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by reciprocal rank.

Dense vectors find paraphrases ("weapon" for "missile"); BM25 finds exact names and
numbers ("9M729") that a small embedding model blurs. Reciprocal-rank fusion (RRF) needs
no score calibration between the two: score = sum of weight / (rrf_k + rank). Filters are
applied before ranking, so a filtered search still returns up to k hits when k exist. Wire
copies of one story (qa/wire.py) give one passage, from the best-ranked outlet, which
carries the others in `Hit.also_in`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

import numpy as np

from qa.config import Config
from qa.embed import Embedder
from qa.index import Index
from qa.types import Filters, Hit

RETRIEVERS = ("hybrid", "dense", "bm25")

# Sentence vectors kept for answer selection: the same passages' sentences come back for
# question after question, and embedding them is most of an extractive answer's time.
# 20,000 vectors of 384 floats is ~30 MB; the least recently used are dropped past that.
SENTENCE_CACHE_SIZE = 20_000


class Retriever:
    """`Retriever(lambda: index, embedder, config).search("query", k=5)` -> hits, best first.

    The index is read through a callable on every search, so a caller can swap in a new
    snapshot (after an upload) without the retriever holding a stale one.
    """

    def __init__(self, index: Callable[[], Index], embedder: Embedder, config: Config) -> None:
        self._index = index
        self.embedder = embedder
        self.config = config
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def search(self, query: str, k: int | None = None, filters: Filters | None = None, method: str | None = None) -> list[Hit]:
        index = self._index()
        k = k or self.config.top_k
        method = method or self.config.retriever
        if not index.chunks or not query.strip():
            return []
        allowed = _allowed(index, filters)
        if allowed is not None and not allowed.any():
            return []
        n_cand = max(self.config.candidates, k)
        dense = self._dense(index, query, n_cand, allowed) if method in ("hybrid", "dense") else ([], [])
        sparse = index.bm25.search(query, n_cand, allowed) if method in ("hybrid", "bm25") else ([], [])
        fused: dict[int, float] = {}
        d_rank = {int(i): r for r, i in enumerate(dense[0], 1)}
        b_rank = {int(i): r for r, i in enumerate(sparse[0], 1)}
        for ranks, weight in ((d_rank, self.config.dense_weight), (b_rank, self.config.bm25_weight)):
            for i, r in ranks.items():
                fused[i] = fused.get(i, 0.0) + weight / (self.config.rrf_k + r)
        d_score = dict(zip((int(i) for i in dense[0]), (float(s) for s in dense[1])))
        b_score = dict(zip((int(i) for i in sparse[0]), (float(s) for s in sparse[1])))
        # Ties (common for a chunk found by one retriever only) go to the dense similarity.
        order = sorted(fused, key=lambda i: (-fused[i], -d_score.get(i, -1.0), i))
        groups = index.wire_groups()
        hits: list[Hit] = []
        story: dict[tuple[str, ...], str] = {}  # wire-copy group -> the article whose passages stand for it
        for i in order:
            chunk = index.chunks[i]
            group = groups.get(chunk.article_id)
            if group is not None and story.setdefault(group, chunk.article_id) != chunk.article_id:
                continue  # the same story from another outlet: one passage per story
            also = tuple(index.articles[a] for a in group if a != chunk.article_id) if group else ()
            hits.append(Hit(
                chunk=chunk, article=index.article_of(chunk), score=fused[i], dense_rank=d_rank.get(i),
                bm25_rank=b_rank.get(i), dense_score=d_score.get(i), bm25_score=b_score.get(i), also_in=also,
            ))
            if len(hits) == k:
                break
        return hits

    def _dense(self, index: Index, query: str, k: int, allowed: np.ndarray | None) -> tuple[list[int], list[float]]:
        q = self.embedder.embed([query])
        # Exact search; with a filter, rank everything and keep the allowed (flat search is O(n) anyway).
        limit = len(index.chunks) if allowed is not None else min(k, len(index.chunks))
        scores, ids = index.faiss.search(q, limit)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and (allowed is None or allowed[i])]
        pairs = pairs[:k]
        return [i for i, _ in pairs], [s for _, s in pairs]

    def similarity(self, query: str, texts: list[str]) -> np.ndarray:
        """Cosine similarity of `query` to each text (used by answer selection and refusal)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._vectors_lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for t in known:
                self._vectors.move_to_end(t)
        new = list(dict.fromkeys(t for t in texts if t not in known))
        vecs = self.embedder.embed([query, *new])
        known.update(zip(new, vecs[1:]))
        with self._vectors_lock:
            for t in new:
                self._vectors[t] = known[t]
            while len(self._vectors) > SENTENCE_CACHE_SIZE:
                self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts]) @ vecs[0]


def _allowed(index: Index, filters: Filters | None) -> np.ndarray | None:
    if filters is None or filters.is_empty():
        return None
    ok = {aid for aid, a in index.articles.items() if filters.accepts(a)}
    return np.fromiter((c.article_id in ok for c in index.chunks), dtype=bool, count=len(index.chunks))
