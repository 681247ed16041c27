"""The in-memory index: articles, their chunks, one vector per chunk, FAISS and BM25.

An `Index` is a snapshot that is never modified in place: `add_articles` and
`remove_article` return a new one. A server answering questions while articles are added
therefore keeps using the old snapshot until the new one is complete, then swaps one
reference. Vectors are L2-normalised and searched by inner product (= cosine) in an exact
`IndexFlatIP`; at news-archive sizes (tens of thousands of chunks) exact search takes
milliseconds and never misses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from qa.bm25 import BM25
from qa.chunking import chunk_article
from qa.config import Config
from qa.embed import Embedder
from qa.errors import QAError
from qa.types import Article, Chunk

FORMAT_VERSION = 1


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its article's title gives context."""
    return f"{article.title}. {chunk.text}" if article.title and article.title not in chunk.text else chunk.text


@dataclass(frozen=True)
class Index:
    model: str
    dim: int
    max_tokens: int
    overlap_tokens: int
    articles: dict[str, Article]  # insertion order is the corpus order
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # (len(chunks), dim) float32, row i embeds chunks[i]
    bm25: BM25
    _faiss: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.vectors.shape != (len(self.chunks), self.dim):
            raise QAError(
                f"index is inconsistent: {self.vectors.shape[0]} vectors of dim {self.vectors.shape[1]} "
                f"for {len(self.chunks)} chunks of dim {self.dim}; rebuild it with `qa index build`"
            )
        if self.bm25.n_docs != len(self.chunks):
            raise QAError("index is inconsistent: BM25 and chunk counts differ; rebuild it with `qa index build`")
        if self._faiss is None:
            import faiss

            flat = faiss.IndexFlatIP(self.dim)
            if len(self.vectors):
                flat.add(self.vectors)
            object.__setattr__(self, "_faiss", flat)

    @property
    def faiss(self):
        return self._faiss

    def _once(self, name: str, compute):
        """`compute()`, computed once per snapshot (a snapshot never changes) and kept on it."""
        if name not in self.__dict__:
            object.__setattr__(self, name, compute())
        return self.__dict__[name]

    def wire_groups(self) -> dict[str, tuple[str, ...]]:
        """{article id: its wire-copy group, in corpus order} for articles with a near-duplicate
        (qa/wire.py); computed once per snapshot, when first asked."""
        from qa.wire import wire_groups

        return self._once("_wire_groups", lambda: wire_groups(self.articles))

    def undated_count(self) -> int:
        """Articles without a date: what any date filter leaves out."""
        return self._once("_undated", lambda: sum(1 for a in self.articles.values() if not a.date))

    def newest_date(self) -> str | None:
        """The latest article date (ISO, possibly partial), or None when no article is dated."""
        return self._once("_newest", lambda: max((a.date for a in self.articles.values() if a.date), default=None))

    def chunk_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.articles, 0)
        for c in self.chunks:
            counts[c.article_id] += 1
        return counts

    def article_of(self, chunk: Chunk) -> Article:
        return self.articles[chunk.article_id]


def empty_index(embedder: Embedder, config: Config) -> Index:
    return Index(
        model=embedder.name, dim=embedder.dim, max_tokens=config.chunk_max_tokens,
        overlap_tokens=config.chunk_overlap_tokens, articles={}, chunks=(),
        vectors=np.zeros((0, embedder.dim), dtype=np.float32), bm25=BM25.build([]),
    )


def build_index(articles: Sequence[Article], embedder: Embedder, config: Config, progress: bool = False) -> Index:
    """Chunk and embed every article. Later articles with an id already seen are ignored."""
    index, _ = add_articles(empty_index(embedder, config), articles, embedder, config, progress=progress)
    return index


def _check_chunker(index: Index, embedder: Embedder, config: Config) -> None:
    if index.model != embedder.name or index.dim != embedder.dim:
        raise QAError(
            f"the index was built with {index.model} ({index.dim} dims) but the configured model is "
            f"{embedder.name} ({embedder.dim} dims); run `qa index build` to rebuild"
        )
    limit = embedder.max_tokens
    if index.max_tokens > limit:
        raise QAError(f"chunk_max_tokens={index.max_tokens} exceeds what {embedder.name} reads ({limit}); lower it")


def add_articles(
    index: Index, articles: Iterable[Article], embedder: Embedder, config: Config, progress: bool = False
) -> tuple[Index, dict[str, str]]:
    """A new index with `articles` added; only new or changed articles are embedded.

    Returns the index and a status per article id: "added", "updated" or "unchanged".
    """
    _check_chunker(index, embedder, config)
    status: dict[str, str] = {}
    new: dict[str, Article] = {}
    for a in articles:
        if a.id in status:
            continue
        old = index.articles.get(a.id)
        if old is not None and old.checksum == a.checksum:
            status[a.id] = "unchanged"
            continue
        status[a.id] = "updated" if old is not None else "added"
        new[a.id] = a
    if not new:
        return index, status
    keep = np.array([c.article_id not in new for c in index.chunks], dtype=bool)
    new_chunks = [c for a in new.values() for c in chunk_article(a, embedder.count_tokens, index.max_tokens, index.overlap_tokens)]
    texts = [embedding_text(new[c.article_id], c) for c in new_chunks]
    new_vecs = embedder.embed(texts, batch_size=config.embedding_batch_size, progress=progress)
    merged_articles = {k: v for k, v in index.articles.items() if k not in new}
    merged_articles.update(new)
    chunks = tuple(c for c, k in zip(index.chunks, keep) if k) + tuple(new_chunks)
    vectors = np.concatenate([index.vectors[keep], new_vecs]).astype(np.float32) if len(new_vecs) else index.vectors[keep]
    return _rebuilt(index, merged_articles, chunks, vectors), status


def remove_article(index: Index, article_id: str) -> Index:
    return remove_articles(index, [article_id])


def remove_articles(index: Index, article_ids: Iterable[str]) -> Index:
    """A new index without these articles, in one rebuild. Nothing is embedded: the other
    chunks keep their stored vectors; BM25 is rebuilt so its statistics are as if the
    removed articles had never been indexed.
    """
    gone = set(article_ids)
    missing = sorted(gone - index.articles.keys())
    if missing:
        raise QAError(f"no article with id {missing[0]!r} in the index; `qa index stats` lists the ids")
    keep = np.array([c.article_id not in gone for c in index.chunks], dtype=bool)
    articles = {k: v for k, v in index.articles.items() if k not in gone}
    chunks = tuple(c for c, k in zip(index.chunks, keep) if k)
    return _rebuilt(index, articles, chunks, index.vectors[keep])


def _rebuilt(index: Index, articles: dict[str, Article], chunks: tuple[Chunk, ...], vectors: np.ndarray) -> Index:
    bm25 = BM25.build([embedding_text(articles[c.article_id], c) for c in chunks])
    return Index(
        model=index.model, dim=index.dim, max_tokens=index.max_tokens, overlap_tokens=index.overlap_tokens,
        articles=articles, chunks=chunks, vectors=np.ascontiguousarray(vectors, dtype=np.float32), bm25=bm25,
    )
