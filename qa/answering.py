"""From a question to an `Answer`: the steps of one turn, as a stream of events.

framing and markup off (qa/phrasing.py) -> spelling -> follow-up rewrite -> retrieval ->
ranking and the evidence gate (qa/gate.py) -> an extractive answer (qa/compose.py), a
generated one (qa/generative.py), or for "Summarise …" a cited overview.

The gate runs before any generator: a question the passages cannot answer is refused with
the closest passages listed, and no model is asked to improvise. This module reads the
services it needs through the small `Services` protocol; it never imports the Assistant.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import replace
from typing import Iterator, Protocol, Sequence

from qa.compose import (closest_passages, compose_conflict, compose_extractive, compose_fresh, compose_summary,
                        compose_timeline, refusal_text, short_answer)
from qa.conflicts import conflict
from qa.freshness import freshest
from qa.timeline import timeline_lines
from qa.config import Config
from qa.dates import mentions, question_period
from qa.errors import QAError
from qa.gate import Evidence, Vocabulary, assess, no_article_in, outside_filter
from qa.generative import generate
from qa.phrasing import parse_request
from qa.ranker import Calibration, Ranker, load_calibration, load_ranker
from qa.render import fallback_note
from qa.rewrite import standalone_query
from qa.text import date_span
from qa.types import Answer, Filters, Hit, StreamEvent


class Services(Protocol):
    """What a turn needs from its assistant (qa.assistant.Assistant provides it)."""

    config: Config

    @property
    def index(self): ...

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]: ...

    @property
    def retriever(self): ...  # its `embedder` embeds what a turn compares (qa.embed.query_embedder_for)


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


def corrected(services: Services, vocabulary: Vocabulary, question: str) -> str:
    """The question with typos fixed to the archive's words ("Stoltenburg"); a word the
    tokenizer holds whole is a real word, kept."""
    return vocabulary.correct(question, is_word=lambda w: services.retriever.embedder.count_tokens([w.lower()])[0] == 1)


def sentence_events(text: str) -> Iterator[StreamEvent]:
    """A composed answer as it appears in the chat: one cited sentence at a time (the
    pieces join to `text` exactly)."""
    for piece in re.split(r"(?<=\])(?=\s)", text):
        yield StreamEvent("delta", piece)


TIMELINE_BREADTH = 3  # a timeline reads this many times top_k passages
POOL = 4  # with a period the question names, this many times top_k passages are searched for ones about it
_IN_TIME = {"mentions": "about", "published": "dated"}


def today_of(services: Services) -> dt.date:
    """"Today" for the question's relative dates: config `today`, else the newest article's date."""
    if services.config.today:
        return dt.date.fromisoformat(services.config.today)
    newest = services.index.newest_date()
    return dt.date.fromisoformat(date_span(newest)[1]) if newest else dt.date.today()


def search_in_time(services: Services, asked: str, query: str, filters: Filters | None, top_k: int,
                   today: dt.date, bounded: bool = False) -> tuple[list[Hit], dict | None]:
    """The passages for a question, read in the period it names, and that period as the
    answer reports it (`date_filter`), or None.

    Only a period that bounds the question counts (`Period.scope`). A period about an event
    ("What happened to the INF Treaty in 2019?") keeps the passages,
    among the best POOL * top_k, that were published in it or mention a day in it: a 2020
    article about 2019 is found. Publication ("articles from 2020"), or no passage about
    the period, filters on the publication date instead. A date filter the user set wins
    over the question's words. With `bounded` any period counts (a timeline of X in 2019)."""
    period = None if (filters is not None and filters.has_dates) else question_period(asked, today)
    if period is None or not (period.scope or bounded):  # a dated detail ("who met on January 12") is a search term
        return services.search(query, k=top_k, filters=filters), None
    if not period.publication:
        pool = services.search(query, k=top_k * POOL, filters=filters)
        about = [h for h in pool if (h.article.date and period.contains(h.article.date))
                 or mentions(h.chunk.text, period, dt.date.fromisoformat(date_span(h.article.date)[0]) if h.article.date else today)]
        if about:
            return about[:top_k], period.to_dict() | {"applied": "mentions"}
    dated = replace(filters or Filters(), date_from=period.start, date_to=period.end)
    return services.search(query, k=top_k, filters=dated), period.to_dict() | {"applied": "published"}


def plain_evidence(services: Services, question: str) -> tuple[str, Evidence, list[Hit]]:
    """The corrected question, the gate's evidence and the passages for a question asked on
    its own (no chat history, no filter), as `answer_events` reads them; used to fit the
    conflict value scorer (qa/fit_conflicts.py)."""
    vocabulary = Vocabulary.of(services.index)
    asked = corrected(services, vocabulary, question)
    config = services.config
    hits, _ = search_in_time(services, asked, asked, None, config.top_k, today_of(services))
    ranker, calibration, threshold = gate_models(config)
    evidence = assess(asked, asked, hits, services.retriever.similarity, ranker, calibration, vocabulary, threshold)
    return asked, evidence, hits


def gate_models(config: Config) -> tuple[Ranker, Calibration, float | None]:
    """What config names for the evidence gate: the answer ranker (in `ranker_precision`),
    its calibration, and the refusal threshold (None: the calibration's own)."""
    threshold = config.answer_threshold if config.answer_threshold >= 0 else None
    return load_ranker(config.answer_ranker, config.ranker_precision), load_calibration(config.answer_ranker), threshold


def answer_events(
    services: Services, question: str, history: Sequence[str], filters: Filters | None, mode: str, top_k: int
) -> Iterator[StreamEvent]:
    config = services.config
    timings: dict[str, float] = {}
    t0 = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = (now - clock) * 1000
        clock = now

    vocabulary = Vocabulary.of(services.index)
    request = parse_request(question)
    asked = corrected(services, vocabulary, request.text)
    query = asked if request.summary else standalone_query(asked, [parse_request(h).text for h in history if h.strip()])
    lap("rewrite")
    if query != question:
        yield StreamEvent("status", f"Searched for: {query}")
    filtered = filters is not None and not filters.is_empty()
    applied = None
    if filtered:
        applied = filters.to_dict() | {"undated_excluded": services.index.undated_count() if filters.has_dates else 0}
    today = today_of(services)
    # a timeline reads more passages: the dated claims of a story are spread over its articles
    hits, date_filter = search_in_time(services, asked, query, filters, top_k * (TIMELINE_BREADTH if request.timeline else 1),
                                       today, bounded=request.timeline)
    if date_filter:
        yield StreamEvent("status", f"Searched articles {_IN_TIME[date_filter['applied']]} {date_filter['describe']} "
                                    f"(“{date_filter['text']}”)")
    lap("retrieve")
    ranker, calibration, threshold = gate_models(config)

    def gate(found: Sequence[Hit]) -> Evidence:
        return assess(asked, query, found, services.retriever.similarity, ranker, calibration, vocabulary, threshold,
                      summary=request.summary or request.timeline)

    evidence = gate(hits)
    if date_filter and not hits:
        evidence = replace(evidence, reason=f"no article is dated {date_filter['describe']} (“{date_filter['text']}”)")
    if filtered:  # is the filter why there is no good answer? (one more search and ranking, only with a filter)
        if not hits:
            evidence = replace(evidence, reason=no_article_in(filters, applied["undated_excluded"]))
        else:
            everywhere = services.search(query, k=top_k)
            why = outside_filter(evidence, gate(everywhere), everywhere, filters)
            if why:
                evidence = replace(evidence, answerable=False, reason=why)
    lap("evidence")  # ranking and the gate
    verification: dict = {"evidence": evidence.to_dict(), "ranker": ranker.name}
    if request.summary:
        verification["summary_of"] = request.topic

    def final(text: str, refused: bool, citations=(), closest=(), used_mode: str = mode, short=None,
              conflicts=()) -> StreamEvent:
        timings["total"] = (time.perf_counter() - t0) * 1000
        return StreamEvent("final", answer=Answer(
            question=question, search_query=query, text=text, refused=refused, mode=used_mode,
            citations=tuple(citations), closest=tuple(closest), verification=verification, timings_ms=dict(timings),
            short_answer=short, filters=applied, date_filter=date_filter, conflicts=tuple(conflicts),
        ))

    def quoting(text: str, citations, **extra) -> Iterator[StreamEvent]:
        """A composed (quoted) answer: streamed a cited sentence at a time, then final."""
        lap("extract")
        yield from sentence_events(text)
        yield final(text, False, citations, used_mode="extractive", **extra)

    def refusing(text: str) -> Iterator[StreamEvent]:
        """A refusal, with the closest passages listed for the reader to check."""
        yield StreamEvent("delta", text)
        yield final(text, True, closest=closest_passages(evidence, hits))

    if not evidence.answerable:
        yield from refusing(refusal_text(evidence))
        return
    if request.summary:  # an overview is quoted, in either mode: a 135M model cannot summarise faithfully
        yield from quoting(*compose_summary(evidence, hits))
        return
    if request.timeline:  # the dated claims about the topic, in date order, in either mode
        bounds = (date_filter["start"], date_filter["end"]) if date_filter else (None, None)
        lines = timeline_lines(hits, query, evidence.weights, today, bounds)
        if lines:
            yield from quoting(*compose_timeline(lines, hits))
            return
        yield from refusing(f"The articles don't say: no passage about “{request.topic}” states a date. "
                            "The closest passages are listed below.")
        return
    sides = conflict(evidence, hits, asked)  # reports of one story, days apart, that disagree
    # values years apart are a change over time: the newest "as of" its date
    fresh = None if sides else freshest(evidence, hits, asked)
    if fresh is not None:  # an answer that changes over time: the newest report, "as of" its date
        verification["freshness"] = {"as_of": fresh.as_of, "older_value": fresh.older_value or None}
        yield from quoting(*compose_fresh(fresh, hits))
        return
    if sides:  # the passages disagree: say so and cite each side, in either mode, instead of picking one
        text, citations, values = compose_conflict(sides, hits)
        yield from quoting(text, citations, conflicts=[{"what": asked, "values": values}])
        return
    if mode == "generative":
        from qa.generate import load_generator

        generator = load_generator(config)
        if not generator.loaded:
            yield StreamEvent("status", f"Loading the language model (first question only, about "
                                        f"{generator.expected_load_seconds():.0f} s)…")
            generator.load()
            lap("load")
            yield StreamEvent("status", "Writing the answer…")
        generated = yield from generate(generator, services.retriever.embedder.embed, query, hits, evidence,
                                        verification, lap, config.max_new_tokens)
        if generated is not None:
            yield final(*generated)
            return
        yield StreamEvent("status", fallback_note(verification.get("outcome", "")))
    text, citations, chosen = compose_extractive(evidence, hits, config.max_answer_sentences)
    yield from quoting(text, citations, short=short_answer(evidence.answer_type, chosen, citations, asked, hits))


__all__ = ["Services", "answer_events", "sentence_events", "corrected", "plain_evidence", "validate_question"]
