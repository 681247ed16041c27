"""Wire copies: the same story run by several outlets with small edits, found and grouped.

Why: a TASS or Reuters story reappears in many outlets with a new headline and an edited
sentence or two. Cited separately, one story looks like several sources agreeing, and it
fills the top passages with copies of itself. Grouped, retrieval keeps one passage per
story (qa/retrieve.py) and its citation lists every outlet that ran it.

Decisions:
- Near-duplicates by MinHash over word 5-shingles, with `datasketch`'s LSH index (a
  well-kept library; the standard method for near-duplicate news at scale) at Jaccard
  similarity `WIRE_JACCARD`: a copy with a new headline and one edited sentence of a
  20-sentence story keeps about 0.8 of its shingles; two different stories on the same
  topic share almost none.
- A group is named by its first member in archive order (the original, usually).
- Exact duplicates never get here: ingestion already keeps one article per text.
- Signatures are computed once per index segment (segments never change) and the groups
  once per index snapshot, when first needed (`Index.wire_groups`): at a million chunks
  the per-snapshot part is inserting 250,000 signatures into an LSH index, not reading and
  shingling every text again.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from qa.types import Article

WIRE_JACCARD = 0.7  # estimated Jaccard similarity of 5-shingle sets above which two articles are one story
SHINGLE = 5  # words per shingle
PERMUTATIONS = 128  # MinHash size: the Jaccard estimate's standard error is about 0.04 at 128
MIN_SHINGLES = 20  # shorter texts (a headline, a one-line brief) are never grouped: too little to compare


def shingles(text: str, n: int = SHINGLE) -> set[str]:
    """The word n-grams of a text, lower-cased.

    >>> sorted(shingles("NATO met in Brussels on Wednesday", 5))
    ['met in brussels on wednesday', 'nato met in brussels on']
    """
    words = text.lower().split()
    return {" ".join(words[i:i + n]) for i in range(max(0, len(words) - n + 1))}


def signatures(texts: Sequence[str]) -> np.ndarray:
    """MinHash signatures of texts, (n, PERMUTATIONS) uint64; a row of zeros for a text too
    short to compare. An index segment computes its articles' once (they never change)."""
    from datasketch import MinHash

    out = np.zeros((len(texts), PERMUTATIONS), dtype=np.uint64)
    for start in range(0, len(texts), 256):  # a few hundred texts' shingles in memory at a time
        grams = {i: shingles(texts[i]) for i in range(start, min(start + 256, len(texts)))}
        long_enough = [i for i, g in grams.items() if len(g) >= MIN_SHINGLES]
        if long_enough:
            made = MinHash.bulk([[g.encode("utf-8") for g in grams[i]] for i in long_enough], num_perm=PERMUTATIONS, seed=1)
            for i, m in zip(long_enough, made):
                out[i] = m.hashvalues
    return out


def wire_groups(articles: Mapping[str, Article], threshold: float = WIRE_JACCARD,
                signed: Iterable[tuple[str, np.ndarray]] | None = None) -> dict[str, tuple[str, ...]]:
    """{article id: the ids of its group, itself included, in archive order} for every
    article that has a near-duplicate; articles without one are left out.

    `signed` gives (id, signature) in archive order when they are already known (an index
    passes the signatures its segments keep); otherwise they are computed from `articles`.
    """
    from datasketch import LeanMinHash, MinHashLSH

    if signed is None:
        ids = list(articles)
        signed = zip(ids, signatures([articles[a].text for a in ids]))
    lsh = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS)
    found: dict[str, LeanMinHash] = {}
    order: dict[str, int] = {}
    for aid, hv in signed:
        order[aid] = len(order)
        if not hv.any():
            continue
        m = LeanMinHash(seed=1, hashvalues=hv)
        found[aid] = m
        lsh.insert(aid, m)
    parent = {aid: aid for aid in found}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for aid, m in found.items():
        for other in lsh.query(m):
            # LSH finds candidates; the MinHash estimate confirms them
            if other != aid and m.jaccard(found[other]) >= threshold:
                a, b = sorted((root(aid), root(other)), key=order.__getitem__)
                parent[b] = a
    members: dict[str, list[str]] = {}
    for aid in found:
        members.setdefault(root(aid), []).append(aid)
    out: dict[str, tuple[str, ...]] = {}
    for group in members.values():
        if len(group) > 1:
            ordered = tuple(sorted(group, key=order.__getitem__))
            out.update({aid: ordered for aid in ordered})
    return out
