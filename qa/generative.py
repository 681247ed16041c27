"""Generative answers: the ranker's best passages to a language model, its text verified.

Decisions:
- The model sees the standalone query (so a follow-up carries its context) and the
  passages holding the ranker's best sentences, best first, numbered [1]..[n]: a 135M
  model loses track of more than GENERATOR_PASSAGES.
- Its answer is read until the first blank line (a small model rambles on with copies of
  the passages after it answers), then verified sentence by sentence (qa/verify.py).
- "NOT IN ARTICLES" from the model is a refusal, never an answer from memory; text that
  only restates the question, or lacks the kind of thing asked for, falls back to the
  extractive answer.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, Sequence

from qa.compose import attributed, citation, closest_passages
from qa.gate import Evidence, has_count
from qa.text import bare, has_date, names, terms
from qa.types import Citation, Hit, StreamEvent

GENERATOR_PASSAGES = 3  # a 135M model loses track of more; the best evidence comes first
MARKER = re.compile(r"\[(\d+)\]")
# Words of the prompt itself: "The source that says ... is:" adds nothing to the question.
_PROMPT_WORDS = frozenset({"sourc", "passag", "citat", "cite", "question", "answer", "articl", "text"})
# "The answer is: ..." / "Answer: ..." lead-ins the model sometimes writes before the answer.
_LEAD_IN = re.compile(r"^\s*(?:the\s+)?answer(?:\s+is)?\s*:\s*", re.IGNORECASE)


def passages_for_generator(hits: Sequence[Hit], evidence: Evidence) -> list[int]:
    """Indices of the hits to show the model: those holding the best-ranked sentences first."""
    order: list[int] = []
    for c in evidence.ranked:
        if c.hit not in order:
            order.append(c.hit)
    order += [i for i in range(len(hits)) if i not in order]
    return order[:GENERATOR_PASSAGES]


def says_something(text: str, query: str, kind: str | None) -> str:
    """"" when `text` adds to the question what it asks for, else why not.

    A small model often restates the question ("The missile violates the INF treaty.") or
    answers "when" without a date; such text is verified (it is true) but answers nothing.
    The checks are the gate's own (`qa.gate.has_count`, `has_date`, names).

    >>> says_something("The talks began on January 10 [1].", "When did the talks begin?", "date")
    ''
    >>> says_something("The talks began [1].", "When did the talks begin?", "date")
    'it gives no date'
    >>> says_something("The talks began [1].", "Did the talks began?", None)
    'it only restates the question'
    """
    plain = MARKER.sub("", text)
    if not set(terms(plain)) - set(terms(query)) - _PROMPT_WORDS:
        return "it only restates the question"
    if kind == "number" and not has_count(plain, query):
        return "it gives no number"
    if kind == "date" and not has_date(plain):
        return "it gives no date"
    if kind in ("name", "alias", "place") and not {bare(w) for w in names(plain)} - {bare(w) for w in names(query)}:
        return "it names no one beyond the question"
    return ""


Final = tuple[str, bool, Sequence[Citation], Sequence[Citation]]


def generate(
    generator, embed: Callable, query: str, hits: Sequence[Hit], evidence: Evidence, verification: dict,
    lap: Callable[[str], None], max_new_tokens: int,
) -> Iterator[StreamEvent]:
    """Stream the model's answer; return `final` arguments (text, refused, citations, closest),
    or None to fall back to the extractive answer (`verification["outcome"]` says why)."""
    from qa.prompt import NOT_IN_ARTICLES, build_messages
    from qa.verify import verify_answer

    shown = [hits[i] for i in passages_for_generator(hits, evidence)]
    passages = list(enumerate(shown, 1))
    verification["generator"] = generator.name
    raw_parts: list[str] = []
    stream = generator.stream(build_messages(query, passages), max_new_tokens)
    try:
        for delta in stream:
            raw_parts.append(delta)
            yield StreamEvent("delta", delta)
            if "\n\n" in "".join(raw_parts).strip():
                break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stops the local model's decoding thread, or the HTTP stream
    raw = "".join(raw_parts).strip()
    lap("generate")
    verification["generated"] = raw
    answer = _LEAD_IN.sub("", raw.split("\n\n")[0]).strip()
    if not answer or NOT_IN_ARTICLES.lower() in answer.lower():
        verification["outcome"] = "the model found no answer in the passages; refused"
        text = "The articles don't say: the generator found no answer in the passages. The closest passages are listed below."
        return text, True, (), closest_passages(evidence, hits)
    checked = verify_answer(answer, {n: h.chunk.text for n, h in passages}, embed=embed)
    lap("verify")
    verification["dropped"] = [{"sentence": s, "reason": r} for s, r in checked.dropped]
    verification["removed_markers"] = list(checked.removed_markers)
    if not checked.supported:
        verification["outcome"] = "no generated sentence was supported by its passages; fell back to extractive"
        return None
    empty = says_something(checked.text, query, evidence.answer_type)
    if empty:
        verification["outcome"] = f"the verified answer does not answer the question ({empty}); fell back to extractive"
        return None
    verification["outcome"] = "verified" if not checked.dropped else f"dropped {len(checked.dropped)} unsupported sentence(s)"
    renumber: dict[int, int] = {}
    for m in MARKER.finditer(checked.text):
        renumber.setdefault(int(m.group(1)), len(renumber) + 1)
    first_cited = [shown[int(m.group(1)) - 1] if (m := MARKER.search(k)) else None for k in checked.kept]
    text = MARKER.sub(lambda m: f"[{renumber[int(m.group(1))]}]", attributed(checked.kept, first_cited))
    citations = [
        citation(new, shown[old - 1], shown[old - 1].chunk.start, shown[old - 1].chunk.end, shown[old - 1].score)
        for old, new in sorted(renumber.items(), key=lambda kv: kv[1])
    ]
    return text, False, citations, ()


__all__ = ["GENERATOR_PASSAGES", "generate", "passages_for_generator", "says_something"]
