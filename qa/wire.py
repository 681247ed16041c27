"""Wire copies: the same story run by several outlets with small edits, found and grouped.

Why: a TASS or Reuters story reappears in many outlets with a new headline and an edited
sentence or two. Cited separately, one story looks like several sources agreeing, and it
fills the top passages with copies of itself. Grouped, retrieval keeps one passage per
story (qa/retrieve.py) and its citation lists every outlet that ran it.

Decisions:
- Near-duplicates by MinHash over word 5-shingles (`datasketch`'s MinHash, a well-kept
  library; the standard method for near-duplicate news at scale) at Jaccard similarity
  `WIRE_JACCARD`: a copy with a new headline and one edited sentence of a 20-sentence story
  keeps about 0.8 of its shingles; two different stories on the same topic share almost none.
  Shingles are hashed with zlib's CRC-32 (datasketch's default, SHA-1, took 2.5x as long for
  the same 32-bit values), so a million chunks' articles are signed in minutes, not hours.
- Candidates by LSH banding with datasketch's own split for this threshold (14 bands of 9
  permutations: what `MinHashLSH(0.7, 128)` chooses), computed over numpy arrays: sorting each
  band's keys finds the articles that share one. datasketch's `MinHashLSH` inserts one
  article at a time in Python, which took minutes per snapshot at a million chunks.
  A candidate pair counts when its MinHash Jaccard estimate reaches the threshold.
- A group is named by its first member in archive order (the original, usually).
- Exact duplicates never get here: ingestion already keeps one article per text.
- Signatures are computed when a segment is built and saved with it (segments never
  change); the groups once per index snapshot, when first needed (`Index.wire_groups`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from qa.types import Article

WIRE_JACCARD = 0.7  # estimated Jaccard similarity of 5-shingle sets above which two articles are one story
SHINGLE = 5  # words per shingle
PERMUTATIONS = 128  # MinHash size: the Jaccard estimate's standard error is about 0.04 at 128
MIN_SHINGLES = 20  # shorter texts (a headline, a one-line brief) are never grouped: too little to compare
BANDS, ROWS = 14, 9  # LSH split: datasketch's optimum for WIRE_JACCARD at 128 permutations
_BAND_MIX = np.random.default_rng(5).integers(1, 2**63, size=BANDS * ROWS, dtype=np.uint64) | np.uint64(1)


def shingles(text: str, n: int = SHINGLE) -> set[str]:
    """The word n-grams of a text, lower-cased.

    >>> sorted(shingles("NATO met in Brussels on Wednesday", 5))
    ['met in brussels on wednesday', 'nato met in brussels on']
    """
    words = text.lower().split()
    return {" ".join(words[i:i + n]) for i in range(max(0, len(words) - n + 1))}


def signatures(texts: Sequence[str]) -> np.ndarray:
    """MinHash signatures of texts, (n, PERMUTATIONS) uint32; a row of zeros for a text too
    short to compare. A segment computes its articles' when it is built and keeps them."""
    import zlib

    from datasketch import MinHash

    out = np.zeros((len(texts), PERMUTATIONS), dtype=np.uint32)
    for start in range(0, len(texts), 256):  # a few hundred texts' shingles in memory at a time
        grams = {i: shingles(texts[i]) for i in range(start, min(start + 256, len(texts)))}
        long_enough = [i for i, g in grams.items() if len(g) >= MIN_SHINGLES]
        if long_enough:
            made = MinHash.bulk([[g.encode("utf-8") for g in grams[i]] for i in long_enough], num_perm=PERMUTATIONS,
                                seed=1, hashfunc=zlib.crc32)
            for i, m in zip(long_enough, made):
                out[i] = m.hashvalues  # datasketch's values are below 2**32
    return out


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64: one key per LSH band of each signature; equal keys, equal bands
    (up to a 2**-64 collision, which the Jaccard check then rejects)."""
    x = sigs[:, :BANDS * ROWS].astype(np.uint64) * _BAND_MIX  # wraps modulo 2**64, as meant
    return x.reshape(len(sigs), BANDS, ROWS).sum(axis=2, dtype=np.uint64)


def wire_groups(ids: Sequence[str], sigs: np.ndarray, keys: np.ndarray | None = None,
                threshold: float = WIRE_JACCARD) -> dict[str, tuple[str, ...]]:
    """{article id: the ids of its group, itself included, in archive order} for every
    article that has a near-duplicate; articles without one are left out.

    `ids` in archive order, `sigs` their signatures (`signatures`), `keys` their band keys
    when already known (a segment keeps its own).
    """
    rows = np.flatnonzero(sigs.any(axis=1))  # texts too short to compare have no signature
    if keys is None:
        keys = band_keys(sigs)
    pairs: set[tuple[int, int]] = set()
    for b in range(BANDS):
        order = rows[np.argsort(keys[rows, b], kind="stable")]
        k = keys[order, b]
        edge = np.diff(np.concatenate(([0], (k[1:] == k[:-1]).astype(np.int8), [0])))
        for s, e in zip(np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)):  # a run of equal keys
            members = sorted(order[s:e + 1].tolist())
            pairs.update((members[i], m) for i in range(len(members)) for m in members[i + 1:])
    if not pairs:
        return {}
    cand = np.array(sorted(pairs), dtype=np.int64)
    similar = (sigs[cand[:, 0]] == sigs[cand[:, 1]]).mean(axis=1) >= threshold
    parent = {int(r): int(r) for r in np.unique(cand[similar])}

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in cand[similar].tolist():  # a < b: the earlier article names the group
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for r in sorted(parent):
        members.setdefault(root(r), []).append(r)
    out: dict[str, tuple[str, ...]] = {}
    for group in members.values():
        named = tuple(ids[r] for r in group)
        out.update({aid: named for aid in named})
    return out


def article_groups(articles: Mapping[str, Article]) -> dict[str, tuple[str, ...]]:
    """`wire_groups` of articles given whole (in their mapping's order), signing each."""
    ids = list(articles)
    return wire_groups(ids, signatures([articles[a].text for a in ids]))
