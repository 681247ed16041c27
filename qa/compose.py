"""An answer a reader can use: the chosen sentences, who said them and when, the short answer.

Decisions:
- Lead with the best-ranked sentence; runners-up join only when they add a key term of the
  question or are a second full source for the same fact (never an echo that would cite an
  article that does not answer).
- A sentence that refers back ("The Kremlin spokesman stressed …", "He said …") is shown
  with the sentence before it, in one citation, so the name is on screen and cited.
- Each sentence is led by its publisher and date, once per article in a row:
  "TASS, 12 February 2020: … [1]".
- `short_answer`: the span of the expected type (a date for "when", a count for "how many",
  a name for "who", a place for "where") inside the first cited sentence, with offsets into
  its article; None when the sentence holds no such span or nothing in particular was asked.
"""

from __future__ import annotations

import re
from typing import Sequence

from qa.conflicts import Side
from qa.freshness import Fresh
from qa.gate import THRESHOLDS, Evidence, Thresholds
from qa.lexicon import OFFICE_PATTERN
from qa.ranker import Candidate
from qa.spans import span_of_kind
from qa.text import human_date, names, split_sentences, terms
from qa.timeline import Line
from qa.types import Citation, Hit, ShortAnswer


def citation(n: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    a = hit.article
    return Citation(
        n=n, source=a.id, title=a.title, date=a.date, publisher=a.publisher, url=a.url,
        quote=a.text[start:end], start=start, end=end, score=score,
        also_in=tuple({"source": c.id, "publisher": c.publisher, "date": c.date} for c in hit.also_in),
    )


def outlets(hit: Hit) -> str:
    """Who published a passage, and who else ran the same story:
    "TASS, 12 February 2020; also in Gazeta.ru, RT"."""
    lead = hit.article.byline
    others = list(dict.fromkeys(c.publisher or c.id for c in hit.also_in))
    return f"{lead}; also in {', '.join(others)}" if others and lead else lead


def balanced_quotes(sentence: str) -> str:
    """A sentence cut from a longer quotation, with the quotation mark it lacks added.

    `"Allies have … known as the 9M729 or SSC-8.` opens a quote the next sentence goes on
    with; shown alone it gets its closing mark. One that ends a quote gets an opening mark.
    The citation's quote and offsets stay exactly the article's text.

    >>> balanced_quotes('"Allies agree.')
    '"Allies agree."'
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


def attributed(sentences: Sequence[str], cited_hits: Sequence[Hit | None]) -> str:
    """Each sentence led by who published its passage and when, once per article in a row:
    "TASS, 12 February 2020: NATO met [1]." (extractive and generative answers alike)."""
    parts: list[str] = []
    last = None
    for sentence, hit in zip(sentences, cited_hits):
        lead = outlets(hit) if hit is not None and hit.article.id != last else ""
        parts.append(f"{lead}: {sentence}" if lead else sentence)
        last = hit.article.id if hit is not None else last
    return " ".join(parts)


def choose(ranked: Sequence[Candidate], weights: dict[str, float], limit: int, t: Thresholds = THRESHOLDS) -> tuple[Candidate, ...]:
    """The best sentence, plus runners-up close to it that add something.

    A runner-up (probability within `runner_up_share` of the best, and at least
    `runner_up_min`) is kept when it states a key term of the question that the sentences
    chosen so far do not, or the kind of thing asked for (a date for "when") that they lack,
    or when it covers the question as fully as the best one from another article (a second
    source for the same fact). A sentence stating the kind asked for leads.
    """
    if not ranked:
        return ()
    best = ranked[0]
    chosen = [best]
    covered = set(terms(best.text)) & set(weights)
    for c in ranked[1:]:
        if len(chosen) >= limit:
            break
        if c.score < max(t.runner_up_share * best.score, t.runner_up_min) or any(c.text == x.text for x in chosen):
            continue
        own = set(terms(c.text)) & set(weights)
        adds = {s for s in own - covered if weights[s] >= 1.0}
        states_kind = c.typed and not any(x.typed for x in chosen)  # the date/number/name asked for, missing so far
        if adds or states_kind or c.coverage >= best.coverage:
            chosen.append(c)
            covered |= own
    return tuple(sorted(chosen, key=lambda c: not c.typed))  # lead with the sentence stating the kind asked for


# A sentence opening with a pronoun or a role instead of a name leans on the one before it.
_REFERS_BACK = re.compile(
    r"^[\"“'‘]?(?:he|she|they|his|her|their|it|this|these|those|its|the (?:[\w-]+ ){0,3}?"
    rf"(?:{OFFICE_PATTERN}|ministry|official|officials|novelist|writer|author|diplomat|agency|alliance|company|group|"
    r"organi[sz]ation|department|country|team|politician))\b",
    re.IGNORECASE,
)


# A quote attributed to a pronoun: '"The wind shift did the damage," she said.' names its
# speaker in an earlier sentence.
_QUOTE_BY_PRONOUN = re.compile(
    r"[\"”’'],?\s+(?:he|she|they)\s+(?:said|says|added|told|warned|explained|noted|stressed|insisted|argued|"
    r"continued|wrote|recalled|admitted|acknowledged)\b",
    re.IGNORECASE,
)


def refers_back(sentence: str) -> bool:
    """Whether a sentence opens with a pronoun or a role instead of a name, or quotes someone
    it names only as "he" or "she".

    >>> refers_back("The Kremlin spokesman stressed that NATO is no dove."), refers_back("Peskov said so.")
    (True, False)
    >>> refers_back('"The wind shift is what did the damage," she said.'), refers_back('"We will appeal," Ashworth said.')
    (True, False)
    """
    s = sentence.strip()
    return bool(_REFERS_BACK.match(s) or _QUOTE_BY_PRONOUN.search(s))


def with_antecedent(c: Candidate, hit: Hit, taken: set[tuple[int, int]]) -> tuple[int, int]:
    """The span to quote for `c`: from the previous sentence of its paragraph when `c` refers back."""
    if not refers_back(c.text):
        return c.start, c.end
    text = hit.article.text
    line_start = text.rfind("\n", 0, c.start) + 1
    before = [s for s in split_sentences(text, line_start, c.start) if s[1] <= c.start]
    if not before or before[-1] in taken or not names(text[before[-1][0] + 1:before[-1][1]]):
        return c.start, c.end
    return before[-1][0], c.end


def compose_extractive(evidence: Evidence, hits: Sequence[Hit], limit: int) -> tuple[str, tuple[Citation, ...], tuple[Candidate, ...]]:
    """The answer text, its citations and the chosen candidates."""
    chosen = choose(evidence.ranked, evidence.weights, limit)
    return *quoted(chosen, hits), chosen


def quoted(chosen: Sequence[Candidate], hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """The chosen sentences as answer text, numbered [1].. in order, each with its citation
    (and the sentence it refers back to, when it does)."""
    taken = {(c.start, c.end) for c in chosen}
    sentences, citations, cited = [], [], []
    for n, c in enumerate(chosen, 1):
        hit = hits[c.hit]
        start, end = with_antecedent(c, hit, taken)
        sentences.append(f"{balanced_quotes(hit.article.text[start:end].rstrip())} [{n}]")
        citations.append(citation(n, hit, start, end, c.score))
        cited.append(hit)
    return attributed(sentences, cited), tuple(citations)


def compose_summary(evidence: Evidence, hits: Sequence[Hit], t: Thresholds = THRESHOLDS) -> tuple[str, tuple[Citation, ...]]:
    """An overview of a topic: the best-ranked sentence of each of the most relevant passages
    (at most `summary_sentences`), each cited, in rank order, led by publisher and date.

    Sentences that mention none of the topic's words are left out: an overview quotes what
    the articles say about the topic, not what sits next to it."""
    chosen: list[Candidate] = []
    for c in evidence.ranked:
        if len(chosen) >= t.summary_sentences:
            break
        if any(c.hit == x.hit or c.text == x.text for x in chosen) or c.coverage <= 0:
            continue
        chosen.append(c)
    return quoted(chosen, hits)


def compose_conflict(sides: Sequence[Side], hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...], list[dict]]:
    """ "Reports differ: dailymail.co.uk says January 20 [1]; IZ says January 10 [2]." followed by
    the cited sentences, and the `conflicts` entry of the answer's JSON."""
    chosen = [side.candidates[0] for side in sides]
    text, citations = quoted(chosen, hits)
    claims, last = [], None
    for n, (side, c) in enumerate(zip(sides, chosen), 1):
        article = hits[c.hit].article
        who = "the same article also" if article.id == last else (article.byline or article.title or article.id)
        claims.append(f"{who} says {side.value} [{n}]")
        last = article.id
    values = [{"value": side.value, "citations": [n]} for n, side in enumerate(sides, 1)]
    return f"Reports differ: {'; '.join(claims)}. {text}", citations, values


def compose_fresh(fresh: Fresh, hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """ "As of 12 September 2023 [1]; an earlier report (1 May 2019) gives Karl Rand [2]. …" and the
    quoted sentences, newest first."""
    chosen = [fresh.newest] + ([fresh.older] if fresh.older is not None else [])
    text, citations = quoted(chosen, hits)
    lead = f"As of {human_date(fresh.as_of)} [1]"
    if fresh.older is not None:
        when = human_date(hits[fresh.older.hit].article.date)
        lead += f"; an earlier report ({when}) gives {fresh.older_value} [2]"
    return f"{lead}: {text}", citations


def compose_timeline(lines: Sequence[Line], hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """One line per dated claim, in date order: "12 January 2022 — IZ: NATO met in Brussels. [3]"."""
    out, citations = [], []
    for n, line in enumerate(lines, 1):
        hit = hits[line.hit]
        sentence = balanced_quotes(hit.article.text[line.start:line.end].rstrip())
        who = outlets(hit)
        out.append(f"{line.when} — {who + ': ' if who else ''}{sentence} [{n}]")
        citations.append(citation(n, hit, line.start, line.end, hit.score))
    return "\n\n".join(out), tuple(citations)  # a paragraph a line, in the chat as on the command line


def closest_passages(evidence: Evidence, hits: Sequence[Hit], limit: int = 3) -> tuple[Citation, ...]:
    """On refusal: the best sentence of each of the nearest articles, for the reader to check."""
    out: list[Citation] = []
    seen: set[str] = set()
    for c in evidence.ranked:
        hit = hits[c.hit]
        if hit.article.id in seen:
            continue
        seen.add(hit.article.id)
        out.append(citation(len(out) + 1, hit, c.start, c.end, c.score))
        if len(out) == limit:
            break
    return tuple(out)


def refusal_text(evidence: Evidence) -> str:
    reason = evidence.reason or "the passages found do not answer it"
    return f"The articles don't say: {reason}. The closest passages are listed below."


# --- the short answer ------------------------------------------------------------------

def short_answer(kind: str | None, chosen: Sequence[Candidate], citations: Sequence[Citation], question: str,
                 hits: Sequence[Hit]) -> ShortAnswer | None:
    """The span of the expected type in the first cited sentence (offsets into its article), or None."""
    if kind is None or not chosen or not citations:
        return None
    c = chosen[0]
    # A name may sit in the sentence shown before a "The spokesman …" sentence: search the whole quote.
    base, sentence = (citations[0].start, citations[0].quote) if kind in ("name", "place") else (c.start, c.text)
    span = span_of_kind(kind, sentence, question)
    if span is None or span[1] <= span[0]:
        return None
    start, end = base + span[0], base + span[1]
    text = hits[c.hit].article.text[start:end]
    return ShortAnswer(text=text, kind=kind, citation=citations[0].n, source=citations[0].source, start=start, end=end)


__all__ = ["attributed", "balanced_quotes", "choose", "citation", "closest_passages",
           "compose_conflict", "compose_extractive", "compose_fresh", "compose_summary", "compose_timeline", "refers_back", "refusal_text", "short_answer"]
