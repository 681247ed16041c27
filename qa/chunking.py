"""Sentence-aware chunks that fit the embedding model, with overlap and exact offsets.

Decisions:
- Chunks are runs of whole sentences up to `max_tokens` word pieces, counted with the
  embedding model's own tokenizer, so nothing is silently truncated at embedding time.
- A sentence longer than the limit is cut at word boundaries into pieces that fit.
- Consecutive chunks share trailing sentences worth up to `overlap_tokens`, so a fact
  stated across a boundary is whole in at least one chunk.
- Every chunk is a span `[start, end)` of the article's cleaned text; its id hashes the
  article id and offsets, so ids are stable across rebuilds of the same text.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from qa.text import split_sentences
from qa.types import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]


def chunk_article(article: Article, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Split one article into chunks; `article.text[c.start:c.end] == c.text` for each.

    >>> a = Article(id="a", text="One two. Three four. Five six.")
    >>> [c.text for c in chunk_article(a, lambda ts: [len(t.split()) for t in ts], 4, 2)]
    ['One two. Three four.', 'Three four. Five six.']
    """
    text = article.text
    spans = _fit_spans(text, split_sentences(text), count_tokens, max_tokens)
    if not spans:
        return []
    sizes = count_tokens([text[s:e] for s, e in spans])
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j, total = i, 0
        while j < len(spans) and (j == i or total + sizes[j] <= max_tokens):
            total += sizes[j]
            j += 1
        s, e = spans[i][0], spans[j - 1][1]
        chunks.append(Chunk(article_id=article.id, start=s, end=e, text=text[s:e]))
        if j >= len(spans):
            break
        # Step back over trailing sentences worth <= overlap_tokens, but always move forward.
        k, back = j, 0
        while k - 1 > i and back + sizes[k - 1] <= overlap_tokens:
            back += sizes[k - 1]
            k -= 1
        i = k
    return chunks


def _fit_spans(text: str, spans: list[tuple[int, int]], count_tokens: TokenCounter, max_tokens: int) -> list[tuple[int, int]]:
    """Cut any sentence longer than `max_tokens` into word-boundary pieces that fit."""
    sizes = count_tokens([text[s:e] for s, e in spans]) if spans else []
    out: list[tuple[int, int]] = []
    for (s, e), n in zip(spans, sizes):
        if n <= max_tokens:
            out.append((s, e))
            continue
        words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", text[s:e])]
        counts = count_tokens([text[a:b] for a, b in words])
        piece_start, used = words[0][0], 0
        last_end = words[0][0]
        for (a, b), c in zip(words, counts):
            if used and used + c > max_tokens:
                out.append((piece_start, last_end))
                piece_start, used = a, 0
            if c > max_tokens:  # one "word" longer than the limit (a URL, a hash): cut by characters
                out.extend(_cut_long_word(text, a, b, count_tokens, max_tokens))
                piece_start, used, last_end = b, 0, b
                continue
            used += c
            last_end = b
        if used:
            out.append((piece_start, last_end))
    return [(s, e) for s, e in out if e > s]


def _cut_long_word(text: str, a: int, b: int, count_tokens: TokenCounter, max_tokens: int) -> list[tuple[int, int]]:
    pieces, start = [], a
    step = max(1, max_tokens)  # a word piece covers at least one character
    while start < b:
        end = min(b, start + step)
        while end - start > 1 and count_tokens([text[start:end]])[0] > max_tokens:
            end = start + (end - start) // 2
        pieces.append((start, end))
        start = end
    return pieces
