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
- Groups are computed once per index snapshot, when first needed (`Index.wire_groups`).
"""

from __future__ import annotations

from typing import Mapping

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


def wire_groups(articles: Mapping[str, Article], threshold: float = WIRE_JACCARD) -> dict[str, tuple[str, ...]]:
    """{article id: the ids of its group, itself included, in archive order} for every
    article that has a near-duplicate; articles without one are left out."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS)
    signatures: dict[str, MinHash] = {}
    for aid, article in articles.items():
        grams = shingles(article.text)
        if len(grams) < MIN_SHINGLES:
            continue
        m = MinHash(num_perm=PERMUTATIONS, seed=1)
        m.update_batch([g.encode("utf-8") for g in grams])
        signatures[aid] = m
        lsh.insert(aid, m)
    order = {aid: i for i, aid in enumerate(articles)}
    parent = {aid: aid for aid in signatures}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for aid, m in signatures.items():
        for other in lsh.query(m):
            # LSH finds candidates; the MinHash estimate confirms them
            if other != aid and m.jaccard(signatures[other]) >= threshold:
                a, b = sorted((root(aid), root(other)), key=order.__getitem__)
                parent[b] = a
    members: dict[str, list[str]] = {}
    for aid in signatures:
        members.setdefault(root(aid), []).append(aid)
    out: dict[str, tuple[str, ...]] = {}
    for group in members.values():
        if len(group) > 1:
            ordered = tuple(sorted(group, key=order.__getitem__))
            out.update({aid: ordered for aid in ordered})
    return out


__all__ = ["WIRE_JACCARD", "shingles", "wire_groups"]
