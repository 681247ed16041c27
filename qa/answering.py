"""From a question to an `Answer`: the steps of one turn, as a stream of events.

The evidence gate runs before any generator: a question the passages cannot answer is
refused with the closest passages listed, and no model is asked to improvise. Generated
text is verified sentence by sentence; when nothing survives (or the model declines), the
extractive answer is used instead and `verification` says so.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Iterator, Sequence

from qa.config import Config
from qa.errors import QAError
from qa.extractive import Evidence, Vocabulary, gather
from qa.rewrite import standalone_query
from qa.types import Answer, Article, Citation, Filters, Hit, StreamEvent

if TYPE_CHECKING:
    from qa.assistant import Assistant

_MONTH_NAMES = "January February March April May June July August September October November December".split()
_MARKER = re.compile(r"\[(\d+)\]")


def validate_question(question: object, config: Config) -> str:
    """The stripped question, or a QAError saying what is wrong with it."""
    if not isinstance(question, str) or not question.strip():
        raise QAError("the question is empty: type a question about the articles")
    question = question.strip()
    if len(question) > config.max_question_chars:
        raise QAError(
            f"the question is {len(question):,} characters long; the limit is {config.max_question_chars:,} "
            "(max_question_chars). Ask a shorter question"
        )
    return question


def human_date(iso: str | None) -> str | None:
    """>>> human_date("2020-02-12")
    '12 February 2020'
    """
    if not iso:
        return None
    y, m, d = iso.split("-")
    return f"{int(d)} {_MONTH_NAMES[int(m) - 1]} {y}"


def attribution(article: Article) -> str:
    """Who published it and when: "TASS, 12 February 2020"; "" when neither is known."""
    return ", ".join(p for p in (article.publisher, human_date(article.date)) if p)


def _citation(n: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    a = hit.article
    return Citation(
        n=n, source=a.id, title=a.title, date=a.date, publisher=a.publisher, url=a.url,
        quote=a.text[start:end], start=start, end=end, score=score,
    )


def balanced_quotes(sentence: str) -> str:
    """A sentence cut from a longer quotation, with the quotation mark it lacks added.

    `"Allies have … known as the 9M729 or SSC-8.` opens a quote the next sentence goes on
    with; shown alone it gets its closing mark. One that ends a quote gets an opening mark.
    The citation's quote and offsets stay exactly the article's text.
    """
    if sentence.count('"') % 2:
        last = sentence.rindex('"')
        closes = last == len(sentence) - 1 or sentence[last + 1].isspace()
        sentence = '"' + sentence if closes else sentence + '"'
    opened, closed = sentence.count("“"), sentence.count("”")
    if opened > closed:
        sentence += "”" * (opened - closed)
    elif closed > opened:
        sentence = "“" * (closed - opened) + sentence
    return sentence


def _attributed(sentences: Sequence[str], cited_hits: Sequence[Hit | None]) -> str:
    """Each sentence led by who published its passage and when, once per article in a row:
    "TASS, 12 February 2020: NATO met [1]." (extractive and generative answers alike)."""
    parts: list[str] = []
    last = None
    for sentence, hit in zip(sentences, cited_hits):
        lead = attribution(hit.article) if hit is not None and hit.article.id != last else ""
        parts.append(f"{lead}: {sentence}" if lead else sentence)
        last = hit.article.id if hit is not None else last
    return " ".join(parts)


def compose_extractive(evidence: Evidence, hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """Chosen sentences in reading order per article, each led by who published it and when."""
    cited = [hits[c.hit] for c in evidence.chosen]
    sentences, citations = [], []
    for n, (c, hit) in enumerate(zip(evidence.chosen, cited), 1):
        sentences.append(f"{balanced_quotes(c.text.rstrip())} [{n}]")
        citations.append(_citation(n, hit, c.start, c.end, c.score))
    return _attributed(sentences, cited), tuple(citations)


def closest_passages(evidence: Evidence, hits: Sequence[Hit], limit: int = 3) -> tuple[Citation, ...]:
    """On refusal: the best sentence of each of the nearest articles, for the reader to check."""
    out: list[Citation] = []
    seen: set[str] = set()
    for c in evidence.ranked:
        hit = hits[c.hit]
        if hit.article.id in seen:
            continue
        seen.add(hit.article.id)
        out.append(_citation(len(out) + 1, hit, c.start, c.end, c.score))
        if len(out) == limit:
            break
    return tuple(out)


def refusal_text(evidence: Evidence) -> str:
    reason = evidence.reason or "the passages found do not answer it"
    return f"The articles don't say: {reason}. The closest passages are listed below."


def answer_events(
    assistant: "Assistant", question: str, history: list[str], filters: Filters | None, mode: str, top_k: int
) -> Iterator[StreamEvent]:
    timings: dict[str, float] = {}
    t0 = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = (now - clock) * 1000
        clock = now

    vocabulary = Vocabulary.of(assistant.index)
    # Typos fixed to the archive's words ("Stoltenburg"); a word the tokenizer holds whole is a real word, kept.
    asked = vocabulary.correct(question, is_word=lambda w: assistant.embedder.count_tokens([w.lower()])[0] == 1)
    query = standalone_query(asked, history)
    lap("rewrite")
    if query != question:
        yield StreamEvent("status", f"Searched for: {query}")
    hits = assistant.search(query, k=top_k, filters=filters)
    lap("retrieve")
    evidence = gather(asked, query, hits, assistant.retriever.similarity, assistant.config, vocabulary)
    lap("evidence")
    verification: dict = {"evidence": evidence.to_dict()}

    def final(text: str, refused: bool, citations=(), closest=(), used_mode: str = mode) -> StreamEvent:
        timings["total"] = (time.perf_counter() - t0) * 1000
        return StreamEvent("final", answer=Answer(
            question=question, search_query=query, text=text, refused=refused, mode=used_mode,
            citations=tuple(citations), closest=tuple(closest), verification=verification, timings_ms=dict(timings),
        ))

    if not evidence.answerable:
        text = refusal_text(evidence)
        yield StreamEvent("delta", text)
        yield final(text, True, closest=closest_passages(evidence, hits))
        return
    if mode == "generative":
        generated = yield from _generate(assistant, asked, query, hits, evidence, verification, lap)
        if generated is not None:
            yield final(*generated)
            return
    text, citations = compose_extractive(evidence, hits)
    lap("extract")
    if mode == "extractive":
        yield StreamEvent("delta", text)
    else:
        yield StreamEvent("status", "Using the extractive answer: " + verification.get("outcome", ""))
    yield final(text, False, citations)


GENERATOR_PASSAGES = 3  # a 135M model loses track of more; the best evidence comes first
_NUMBER_WORDS = re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|half)\b", re.I)


# Words of the prompt itself: "The source that says ... is:" adds nothing to the question.
_PROMPT_WORDS = frozenset({"sourc", "passag", "citat", "cite", "question", "answer", "articl", "text"})
# "The answer is: ..." / "Answer: ..." lead-ins the model sometimes writes before the answer.
_LEAD_IN = re.compile(r"^\s*(?:the\s+)?answer(?:\s+is)?\s*:\s*", re.IGNORECASE)


def _passages_for_generator(hits: Sequence[Hit], evidence: Evidence) -> list[int]:
    """Indices of the hits to show the model: those holding the best-ranked evidence sentences first."""
    order: list[int] = []
    for c in (*evidence.chosen, *evidence.ranked):
        if c.hit not in order:
            order.append(c.hit)
    order += [i for i in range(len(hits)) if i not in order]
    return order[:GENERATOR_PASSAGES]


def _says_something(text: str, query: str, kind: str | None) -> str:
    """"" when `text` adds to the question what it asks for, else why not.

    A small model often restates the question ("The missile violates the INF treaty.") or
    answers "when" without a date; such text is verified (it is true) but answers nothing.
    """
    from qa.text import has_date, names, numbers, terms

    plain = _MARKER.sub("", text)
    if not set(terms(plain)) - set(terms(query)) - _PROMPT_WORDS:
        return "it only restates the question"
    if kind == "number" and not (numbers(plain) - numbers(query) or _NUMBER_WORDS.search(plain)):
        return "it gives no number"
    if kind == "date" and not has_date(plain):
        return "it gives no date"
    if kind in ("name", "alias") and not {w.lower() for w in names(plain)} - {w.lower() for w in names(query)}:
        return "it names no one beyond the question"
    return ""


def _generate(assistant, question, query, hits, evidence, verification, lap):
    """Generate, verify, attribute, renumber. Returns `final` arguments (text, refused, citations,
    closest) or None to fall back to the extractive answer.

    The model sees the standalone query (so a follow-up carries its context) and the best
    few passages, numbered [1]..[n]; its answer is read until the first blank line (a small
    model rambles on with copies of the passages after it answers).
    """
    from qa.generate import load_generator
    from qa.prompt import NOT_IN_ARTICLES, build_messages
    from qa.verify import verify_answer

    generator = load_generator(assistant.config)
    shown = [hits[i] for i in _passages_for_generator(hits, evidence)]
    passages = list(enumerate(shown, 1))
    verification["generator"] = generator.name
    raw_parts: list[str] = []
    stream = generator.stream(build_messages(query, passages), assistant.config.max_new_tokens)
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
        # The model read the passages and found no answer: refuse, never answer from memory.
        verification["outcome"] = "the model found no answer in the passages; refused"
        text = "The articles don't say: the generator found no answer in the passages. The closest passages are listed below."
        return text, True, (), closest_passages(evidence, hits)
    checked = verify_answer(answer, {n: h.chunk.text for n, h in passages}, embed=assistant.embedder.embed)
    lap("verify")
    verification["dropped"] = [{"sentence": s, "reason": r} for s, r in checked.dropped]
    verification["removed_markers"] = list(checked.removed_markers)
    if not checked.supported:
        verification["outcome"] = "no generated sentence was supported by its passages; fell back to extractive"
        return None
    empty = _says_something(checked.text, query, evidence.answer_type)
    if empty:
        verification["outcome"] = f"the verified answer does not answer the question ({empty}); fell back to extractive"
        return None
    verification["outcome"] = "verified" if not checked.dropped else f"dropped {len(checked.dropped)} unsupported sentence(s)"
    renumber: dict[int, int] = {}
    for m in _MARKER.finditer(checked.text):
        renumber.setdefault(int(m.group(1)), len(renumber) + 1)
    first_cited = [shown[int(m.group(1)) - 1] if (m := _MARKER.search(k)) else None for k in checked.kept]
    text = _MARKER.sub(lambda m: f"[{renumber[int(m.group(1))]}]", _attributed(checked.kept, first_cited))
    citations = [
        _citation(new, shown[old - 1], shown[old - 1].chunk.start, shown[old - 1].chunk.end, shown[old - 1].score)
        for old, new in sorted(renumber.items(), key=lambda kv: kv[1])
    ]
    return text, False, citations


__all__ = ["answer_events", "attribution", "compose_extractive", "human_date", "validate_question"]
