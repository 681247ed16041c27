"""Turn a follow-up question into a standalone search query.

"What is its other designation?" after "Which Russian missile violates the INF treaty?"
cannot be searched on its own: "its" points back. When a question leans on the chat (a
pronoun, a demonstrative, or almost no content words of its own), the names, numbers and
content words of the nearest earlier question that has some are added to the query. The
question itself is kept as asked; only the search query grows, and the answer reports it.
"""

from __future__ import annotations

from typing import Sequence

from qa.text import QUESTION_WORDS, STOPWORDS, terms, words

# Words that point back to something said earlier in the chat.
_ANAPHORA = {
    "it", "its", "they", "their", "them", "he", "his", "him", "she", "her", "this", "that", "these",
    "those", "there", "then", "same", "such", "other", "else", "also", "again",
}


def needs_context(question: str) -> bool:
    """True when `question` cannot stand alone.

    >>> needs_context("What is its other designation?"), needs_context("Who is Jens Stoltenberg?")
    (True, False)
    """
    lowered = [w.lower() for w in words(question)]
    return any(w in _ANAPHORA for w in lowered) or len(terms(question)) <= 1


def context_words(question: str) -> list[str]:
    """Content words of an earlier question, as written, in order, without repeats."""
    out: list[str] = []
    for w in words(question):
        low = w.lower()
        if low in STOPWORDS or low in QUESTION_WORDS or low in _ANAPHORA or w in out:
            continue
        out.append(w)
    return out


def standalone_query(question: str, history: Sequence[str]) -> str:
    """The search query for `question` asked after `history` (earlier user questions, oldest first).

    >>> standalone_query("What is its other designation?", ["Which Russian missile violates the INF treaty?"])
    'What is its other designation? (Russian missile violates INF treaty)'
    """
    question = question.strip()
    if not history or not needs_context(question):
        return question
    own = set(terms(question))
    for earlier in reversed([h for h in history if h and h.strip()]):
        extra = [w for w in context_words(earlier) if not set(terms(w)) <= own]
        if extra:
            return f"{question} ({' '.join(extra)})"
    return question
