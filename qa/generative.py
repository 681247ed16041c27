"""Generative answers: the ranker's best passages to a language model, its text verified.

Decisions:
- The model sees the standalone query (so a follow-up carries its context) and the
  passages holding the ranker's best sentences, best first, numbered [1]..[n]: a 135M
  model loses track of more than GENERATOR_PASSAGES.
- Its answer is read until the first blank line (a small model rambles on with copies of
  the passages after it answers) and verified sentence by sentence *as it streams*
  (`Draft`, qa/verify.py): the user only ever sees verified sentences, in their final
  form, and never text that a fallback later replaces.
- "NOT IN ARTICLES" from the model is a refusal, never an answer from memory; text that
  only restates the question, or lacks the kind of thing asked for, falls back to the
  extractive answer.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, Sequence

import numpy as np

from qa.compose import citation, closest_passages, outlets
from qa.gate import Evidence, has_count
from qa.text import bare, has_date, names, terms
from qa.types import Citation, Hit, StreamEvent
from qa.verify import split_claims, verify_answer

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


def _memo(embed: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """`embed` that encodes each text once: every sentence is verified against the same passages."""
    seen: dict[str, np.ndarray] = {}

    def cached(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in seen]
        if new:
            seen.update(zip(new, np.asarray(embed(new), dtype=np.float32)))
        return np.stack([seen[t] for t in texts])

    return cached


class Draft:
    """The generated answer, verified sentence by sentence as it is written.

    Only verified text is ever shown, in its final form: each sentence is checked against
    the passages when the next one starts (qa/verify.py), renumbered [1].. in order of first
    citation and led by its publisher and date, exactly as in the final answer. Sentences
    are held back until together they answer the question (`says_something`), so text
    that the answer would later drop for saying nothing is never on screen. The final
    answer is the concatenation of what was shown.
    """

    def __init__(self, query: str, kind: str | None, shown: Sequence[Hit], embed: Callable | None) -> None:
        self.query, self.kind, self.shown = query, kind, shown
        self.passages = {n: h.chunk.text for n, h in enumerate(shown, 1)}
        self.embed = _memo(embed) if embed is not None else None
        self.kept: list[str] = []  # verified sentences, with the model's marker numbers
        self.dropped: list[tuple[str, str]] = []
        self.removed: list[int] = []
        self.pieces: list[str] = []  # what was shown, in final form
        self.renumber: dict[int, int] = {}
        self._done = 0  # sentences of the model's text already judged
        self._last_article: str | None = None

    @property
    def released(self) -> bool:
        return bool(self.pieces)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def feed(self, answer: str, final: bool = False) -> list[str]:
        """Judge the sentences of `answer` (the model's text so far) that are complete (all of
        them when `final`); return the new pieces to show."""
        sentences = [sent for sent, _ in split_claims(answer)]
        ready = sentences if final else sentences[:-1]  # the last may still grow
        new: list[str] = []
        for sentence in ready[self._done:]:
            new += self._judge(sentence)
        self._done = max(self._done, len(ready))
        return new

    def _judge(self, sentence: str) -> list[str]:
        checked = verify_answer(sentence, self.passages, embed=self.embed)
        self.removed += [n for n in checked.removed_markers if n not in self.removed]
        if not checked.kept:
            self.dropped += checked.dropped
            return []
        kept = checked.kept[0]
        if any(MARKER.sub("", k).strip().lower() == MARKER.sub("", kept).strip().lower() for k in self.kept):
            self.dropped.append((sentence, "repeats an earlier sentence"))  # greedy decoding loops
            return []
        self.kept.append(kept)
        if self.released:
            return [self._piece(kept)]
        if says_something(" ".join(self.kept), self.query, self.kind):
            return []  # not an answer yet: hold it back
        return [self._piece(k) for k in self.kept]

    def _piece(self, sentence: str) -> str:
        for m in MARKER.finditer(sentence):
            self.renumber.setdefault(int(m.group(1)), len(self.renumber) + 1)
        first = MARKER.search(sentence)
        hit = self.shown[int(first.group(1)) - 1] if first else None
        lead = outlets(hit) if hit is not None and hit.article.id != self._last_article else ""
        self._last_article = hit.article.id if hit is not None else self._last_article
        text = MARKER.sub(lambda m: f"[{self.renumber[int(m.group(1))]}]", sentence)
        piece = (" " if self.pieces else "") + (f"{lead}: {text}" if lead else text)
        self.pieces.append(piece)
        return piece

    def citations(self) -> list[Citation]:
        return [citation(new, self.shown[old - 1], self.shown[old - 1].chunk.start, self.shown[old - 1].chunk.end,
                         self.shown[old - 1].score)
                for old, new in sorted(self.renumber.items(), key=lambda kv: kv[1])]


def _answer_part(raw: str) -> str:
    """The model's answer: its text up to the first blank line, without an "Answer:" lead-in."""
    return _LEAD_IN.sub("", raw.strip().split("\n\n")[0]).strip()


def generate(
    generator, embed: Callable, query: str, hits: Sequence[Hit], evidence: Evidence, verification: dict,
    lap: Callable[[str], None], max_new_tokens: int,
) -> Iterator[StreamEvent]:
    """Stream the model's verified answer (`Draft`); return `final` arguments (text, refused,
    citations, closest), or None to fall back to the extractive answer, having shown
    nothing (`verification["outcome"]` says why)."""
    from qa.prompt import NOT_IN_ARTICLES, build_messages

    shown = [hits[i] for i in passages_for_generator(hits, evidence)]
    verification["generator"] = generator.name
    draft = Draft(query, evidence.answer_type, shown, embed)
    raw_parts: list[str] = []
    stream = generator.stream(build_messages(query, list(enumerate(shown, 1))), max_new_tokens)
    try:
        for delta in stream:
            raw_parts.append(delta)
            raw = "".join(raw_parts)
            answer = _answer_part(raw)
            if NOT_IN_ARTICLES.lower() in answer.lower():
                break
            for piece in draft.feed(answer, final=False):
                yield StreamEvent("delta", piece)
            if "\n\n" in raw.strip():
                break  # a small model rambles on with copies of the passages after it answers
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stops the local model's decoding thread, or the HTTP stream
    raw = "".join(raw_parts).strip()
    lap("generate")
    verification["generated"] = raw
    answer = _answer_part(raw)
    said_none = not answer or NOT_IN_ARTICLES.lower() in answer.lower()
    if said_none and not draft.released:
        verification["outcome"] = "the model found no answer in the passages; refused"
        text = "The articles don't say: the generator found no answer in the passages. The closest passages are listed below."
        return text, True, (), closest_passages(evidence, hits)
    if not said_none:
        for piece in draft.feed(answer, final=True):
            yield StreamEvent("delta", piece)
    lap("verify")
    verification["dropped"] = [{"sentence": s, "reason": r} for s, r in draft.dropped]
    verification["removed_markers"] = list(draft.removed)
    if not draft.kept:
        verification["outcome"] = "no generated sentence was supported by its passages; fell back to extractive"
        return None
    if not draft.released:
        empty = says_something(" ".join(draft.kept), query, evidence.answer_type)
        verification["outcome"] = f"the verified answer does not answer the question ({empty}); fell back to extractive"
        return None
    verification["outcome"] = "verified" if not draft.dropped else f"dropped {len(draft.dropped)} unsupported sentence(s)"
    return draft.text, False, draft.citations(), ()


__all__ = ["Draft", "GENERATOR_PASSAGES", "generate", "passages_for_generator", "says_something"]
