"""Okapi BM25 over chunk texts, as a sparse term-by-document matrix of precomputed weights.

Scores follow the Lucene variant (idf = ln(1 + (N - df + 0.5) / (df + 0.5)), k1=1.2,
b=0.75), the one behind the BEIR BM25 baseline. Weights are computed once at build time,
so a query is a sum of a few matrix rows. The arrays are saved with `numpy.savez` and read
with `allow_pickle=False`: nothing is ever unpickled.
"""

from __future__ import annotations

from collections import Counter
import io
from typing import Sequence

import numpy as np
from scipy import sparse

from qa.text import terms

K1 = 1.2
B = 0.75


class BM25:
    """`BM25.build(texts).search("query", k)` -> (doc indices, scores), best first."""

    def __init__(self, vocab: dict[str, int], weights: sparse.csr_matrix, n_docs: int) -> None:
        self.vocab = vocab
        self.weights = weights  # (n_terms, n_docs): row t holds term t's BM25 weight in each doc
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: Sequence[str]) -> "BM25":
        docs = [Counter(terms(t)) for t in texts]
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        for d, counts in enumerate(docs):
            for term, tf in counts.items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(d)
                tfs.append(tf)
        n = len(docs)
        lengths = np.array([sum(c.values()) for c in docs], dtype=np.float64)
        avg = float(lengths.mean()) if n and lengths.sum() else 1.0
        rows_a, cols_a, tf_a = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(tfs, dtype=np.float64)
        df = np.bincount(rows_a, minlength=len(vocab)) if len(rows_a) else np.zeros(len(vocab))
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = K1 * (1 - B + B * lengths[cols_a] / avg) if len(cols_a) else np.zeros(0)
        w = idf[rows_a] * tf_a * (K1 + 1) / (tf_a + norm) if len(rows_a) else np.zeros(0)
        weights = sparse.csr_matrix((w.astype(np.float32), (rows_a, cols_a)), shape=(len(vocab), n))
        return cls(vocab, weights, n)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for `query` (zeros where no term matches)."""
        ids = [self.vocab[t] for t in terms(query) if t in self.vocab]
        if not ids or not self.n_docs:
            return np.zeros(self.n_docs, dtype=np.float32)
        # A repeated query term counts once per occurrence, as in Lucene.
        return np.asarray(self.weights[ids].sum(axis=0)).ravel().astype(np.float32)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        s = self.scores(query)
        if allowed is not None:
            s = np.where(allowed, s, 0.0)
        hits = np.flatnonzero(s > 0)
        order = hits[np.argsort(-s[hits], kind="stable")][:k]
        return order, s[order]

    def to_bytes(self) -> bytes:
        w = self.weights.tocsr()
        terms_sorted = sorted(self.vocab, key=self.vocab.__getitem__)
        buf = io.BytesIO()
        np.savez(
            buf,
            data=w.data, indices=w.indices, indptr=w.indptr,
            shape=np.array(w.shape, dtype=np.int64),
            vocab=np.array(terms_sorted, dtype=np.str_),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "BM25":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            shape = tuple(int(x) for x in z["shape"])
            w = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
            vocab = {t: i for i, t in enumerate(z["vocab"].tolist())}
        return cls(vocab, w, shape[1])
