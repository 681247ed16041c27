"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by reciprocal rank.

Dense vectors find paraphrases ("weapon" for "missile"); BM25 finds exact names and
numbers ("9M729") that a small embedding model blurs. Reciprocal-rank fusion (RRF) needs
no score calibration between the two: score = sum of weight / (rrf_k + rank). Filters are
applied inside each search (a FAISS ID selector, a BM25 mask), so a filtered search still
returns up to k hits when k exist. The index may hold several segments (qa/segment.py);
each is searched and the best of all are kept, which ranks as one index would. Wire
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
        if not index.segments or not query.strip():
            return []
        allowed = index.eligible(filters)
        if allowed is not None and not any(m is None or m.any() for m in allowed):
            return []
        n_cand = max(self.config.candidates, k)
        dense = (index.dense_search(self.embedder.embed([query]), n_cand, allowed, self.config.ann_nprobe)
                 if method in ("hybrid", "dense") else ([], []))
        sparse = index.bm25_search(query, n_cand, allowed) if method in ("hybrid", "bm25") else ([], [])
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
            chunk = index.chunk_at(i)
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

