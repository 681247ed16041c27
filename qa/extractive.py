"""Extractive answers: choose the retrieved sentences that answer the question, or refuse.

Every candidate sentence of the retrieved chunks is scored on three signals:
- coverage: the share of the question's key terms (stems; names and numbers count double)
  that the sentence, or its chunk, contains;
- similarity: cosine similarity of question and sentence under the embedding model;
- answer type: a "how many" question needs a number the question does not already hold,
  "when" a date, "who" a name. A sentence without one cannot be the answer.

The evidence gate refuses when no sentence passes: the key terms are missing from every
passage, the best similarity is too low, or a name or number the question asks about
appears in no passage (the question is about something the articles do not cover). This
is how "Who won the 2022 World Cup?" is refused instead of answered from anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from qa.config import Config
from qa.text import has_date, names, numbers, split_sentences, terms, words
from qa.types import Hit

Similarity = Callable[[str, list[str]], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    hit: int  # index into the hits
    start: int  # offsets into the article's cleaned text
    end: int
    text: str
    coverage: float
    similarity: float
    typed: bool  # carries the expected answer type (or no type was expected)
    score: float


@dataclass(frozen=True)
class Evidence:
    """The outcome of the evidence gate, with the numbers behind it (shown in `verification`)."""

    answerable: bool
    reason: str
    answer_type: str | None
    coverage: float
    similarity: float
    missing: tuple[str, ...]  # key names/numbers of the question found in no passage
    chosen: tuple[Candidate, ...]
    ranked: tuple[Candidate, ...]

    def to_dict(self) -> dict:
        return {
            "answerable": self.answerable, "reason": self.reason, "answer_type": self.answer_type,
            "coverage": round(self.coverage, 3), "similarity": round(self.similarity, 3), "missing": list(self.missing),
        }


def answer_type(question: str) -> str | None:
    """The kind of thing the question asks for: "number", "date", "name", "alias" or None.

    >>> answer_type("How many delegations met?"), answer_type("When did the talks end?"), answer_type("Who said it?")
    ('number', 'date', 'name')
    """
    q = question.lower().strip()
    if re.search(r"\b(other|another|alternative|also|official|nato|full) (name|designation|title)\b|\balso (known|called)\b|\bdesignat", q):
        return "alias"
    if re.search(r"\bhow (many|much|long|old|far)\b|\bwhat (number|percentage|share)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (year|date|day|month)\b|\bon which (day|date)\b|\bin which year\b", q):
        return "date"
    if re.search(r"^(who|whom)\b|\bwho (said|stated|called|warned|threatened|announced|is|was|were|leads|chairs)\b", q):
        return "name"
    return None


# "known as the 9M729 or SSC-8", "dubbed ...", "called Sarmat": a sentence that gives a name for a thing.
_ALIAS = re.compile(
    r"\b(?:known as|also called|dubbed|designated|a\.k\.a\.?|code-?named|nicknamed)\b"
    r"|\bcalled\s+[\"“']?[A-Z0-9]"
    r"|\b[A-Z0-9]+(?:-[A-Z0-9]+)+\s+or\s+[A-Z0-9]|\b[A-Z0-9]{3,}\s+or\s+[A-Z0-9]+-[A-Z0-9]+"
)


def _typed(kind: str | None, sentence: str, question: str) -> bool:
    if kind is None:
        return True
    if kind == "number":
        return bool(numbers(sentence) - numbers(question)) or bool(
            re.search(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|half)\b", sentence.lower())
        )
    if kind == "date":
        return has_date(sentence)
    if kind == "alias":
        return bool(_ALIAS.search(sentence))
    own = {w.lower() for w in names(question)}
    return any(n.lower() not in own for n in names(sentence[1:]))  # a name beyond the question's own


def _key_terms(question: str, query: str) -> dict[str, float]:
    """Stems of the question's content words, names and numbers weighted double.

    Words a follow-up borrowed from earlier questions (in `query` only) count a quarter:
    they place the question in context but are not what it asks.
    """
    special = {t for w in names(query[1:]) | numbers(query) for t in terms(w)}
    own = set(terms(question))
    return {t: (2.0 if t in special else 1.0) * (1.0 if t in own else 0.25) for t in terms(query)}


def _coverage(weights: dict[str, float], text_terms: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in text_terms) / total if total else 0.0


def gather(question: str, query: str, hits: Sequence[Hit], similarity: Similarity, config: Config) -> Evidence:
    """Score every sentence of `hits` against the question and decide whether to answer."""
    kind = answer_type(question)
    weights = _key_terms(question, query)
    if not hits or not weights:
        return Evidence(False, "no passage matches the question", kind, 0.0, 0.0, (), (), ())
    spans: list[tuple[int, int, int]] = []
    seen: set[tuple[str, int, int]] = set()
    for i, h in enumerate(hits):
        for s, e in split_sentences(h.article.text, h.chunk.start, h.chunk.end):
            if (h.chunk.article_id, s, e) not in seen and len(words(h.article.text[s:e])) >= 4:
                seen.add((h.chunk.article_id, s, e))
                spans.append((i, s, e))
    texts = [hits[i].article.text[s:e] for i, s, e in spans]
    sims = similarity(query, texts) if texts else np.zeros(0)
    chunk_terms = [set(terms(h.chunk.text)) | set(terms(h.article.title)) for h in hits]
    all_terms = set().union(*chunk_terms)
    special = [t for t, w in weights.items() if w > 1.0]
    missing = tuple(t for t in special if t not in all_terms)
    cands = []
    for (i, s, e), text, sim in zip(spans, texts, sims):
        sent_cov = _coverage(weights, set(terms(text)))
        ctx_cov = _coverage(weights, chunk_terms[i])
        cov = 0.7 * sent_cov + 0.3 * ctx_cov
        typed = _typed(kind, text, question)
        score = 0.55 * float(sim) + 0.45 * cov + (0.1 if typed and kind else 0.0) - (0.0 if typed else 0.3)
        cands.append(Candidate(i, s, e, text, cov, float(sim), typed, score))
    ranked = tuple(sorted(cands, key=lambda c: -c.score))
    best_cov = max((_coverage(weights, t) for t in chunk_terms), default=0.0)
    best_sim = max((c.similarity for c in ranked), default=0.0)
    typed_cands = [c for c in ranked if c.typed]
    if missing:
        said = [w for w in names(query[1:]) | numbers(query) if set(terms(w)) & set(missing)]
        reason = f"the articles never mention {', '.join(sorted(said) or missing)}"
    elif best_cov < config.min_term_coverage:
        reason = f"the passages cover only {best_cov:.0%} of the question's key terms"
    elif best_sim < config.min_dense_similarity:
        reason = f"the closest passage is too dissimilar ({best_sim:.2f})"
    elif not typed_cands:
        reason = f"no passage states the {kind} the question asks for"
    else:
        return Evidence(True, "", kind, best_cov, best_sim, (), _choose(typed_cands, config), ranked)
    return Evidence(False, reason, kind, best_cov, best_sim, missing, (), ranked)


def _choose(ranked: list[Candidate], config: Config) -> tuple[Candidate, ...]:
    """The best sentence, plus runners-up close to it that add something (another article or terms)."""
    best = ranked[0]
    chosen = [best]
    for c in ranked[1:]:
        if len(chosen) >= config.max_answer_sentences:
            break
        if c.score < 0.9 * best.score or c.text == best.text:
            continue
        chosen.append(c)
    return tuple(chosen)
