"""Extractive answers: choose the retrieved sentences that answer the question, or refuse.

Every candidate sentence of the retrieved chunks is scored on three signals:
- coverage: the share of the question's key terms (stems; names and numbers count double)
  that the sentence, or its chunk, contains;
- similarity: cosine similarity of question and sentence under the embedding model;
- answer type: a "how many" question needs a number the question does not already hold,
  "when" a date, "who" a name. A sentence without one cannot be the answer.

The evidence gate refuses when no sentence passes: the question's topic words are ones the
archive never uses (two of them, or one when the closest sentence is not a near paraphrase),
the key terms are missing from every passage, the best similarity is too low, a number the
question asks about appears in no passage, or no sentence states the kind of thing asked
for. This is how "Who won the 2022 World Cup?" is refused instead of answered from anywhere.
Article metadata (publisher, date, title) counts as part of every passage of the article:
"What did TASS report in February 2020?" is answered by a passage that names neither.

The thresholds were chosen on the bundled question set (eval/questions/bundled.jsonl); there
is no separate development split, so expect somewhat lower numbers on other archives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Collection, Iterator, Sequence

import numpy as np

from qa.config import Config
from qa.spelling import Speller
from qa.text import bare, has_date, names, numbers, split_sentences, stem, terms, words
from qa.types import Article, Hit

if TYPE_CHECKING:
    from qa.index import Index

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
    if re.search(r"^(?:in |from |at |to |by )?(which|what) (?:[\w-]+ ){0,2}?(news agency|agency|newspaper|city|country|organi[sz]ation|body|"
                 r"company|party|person|official|minister|diplomat|leader|politician)\b", q):
        return "name"
    if re.search(r"^(who|whom)\b|\bwho (said|stated|called|warned|threatened|announced|is|was|were|leads|chairs)\b", q):
        return "name"
    return None


# "known as the 9M729 or SSC-8", "dubbed ...", "called Sarmat": a sentence that gives a name for a thing.
_ALIAS = re.compile(
    r"\b(?:known as|also called|dubbed|designated|a\.k\.a\.?|code-?named|nicknamed)\b"
    r"|\bcalled\s+[\"“']?[A-Z0-9]"
    r"|\b[A-Z0-9]+(?:-[A-Z0-9]+)+\s+or\s+[A-Z0-9]|\b[A-Z0-9]{3,}\s+or\s+[A-Z0-9]+-[A-Z0-9]+"
)


# Words that give a question its shape or name the kind of answer wanted, not its topic: an
# archive that never writes "remarks" or "city" can still answer "Which city hosted the
# remarks?". Stems, as `terms` makes them.
FRAME_TERMS = frozenset(terms(
    "besides instead whether article articles remark remarks comment comments statement statements "
    "date day year month time name names designation abbreviation title city country region place "
    "organisation organization body agency level kind type sort describe described host hosted attend "
    "attended speak spoke full other else", keep_stopwords=True,
))
# Irregular past forms the stemmer leaves alone, mapped to the stem of their base form.
_IRREGULAR = {
    "met": "meet", "left": "leav", "spoke": "speak", "held": "hold", "won": "win", "took": "take",
    "gave": "give", "went": "go", "came": "come", "began": "begin", "sent": "send", "thought": "think",
    "made": "make", "found": "find", "becam": "becom", "led": "lead", "sold": "sell", "bought": "buy",
    "fought": "fight", "brought": "bring", "kept": "keep", "chose": "choos", "wrote": "write", "saw": "see",
}
_ORDINALS = {"first": "one", "second": "two", "third": "three", "fourth": "four", "fifth": "five",
             "sixth": "six", "seventh": "seven", "eighth": "eight", "ninth": "nine", "tenth": "ten"}
_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?|billions?"
# A quantity written in digits; not the digits of a code such as "SSC-8" or "9M729".
_QUANTITY = re.compile(r"(?<![\w-])\d[\d,.]*(?![\w-])")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_PHRASE = re.compile(rf"\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTH}", re.IGNORECASE)
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)$")
_PREFIX = 6  # "suspension"/"suspended", "programme"/"program": one word if the stems share 6 letters


def metadata_terms(article: Article) -> set[str]:
    """Terms an article's metadata adds to each of its passages: publisher, title, date parts."""
    from qa.answering import human_date  # the one place dates are written for people

    text = " ".join(x for x in (article.publisher, article.title, human_date(article.date)) if x)
    return set(terms(text))


class Vocabulary:
    """Every term the archive uses (chunk text, titles, metadata), for "is this topic covered at all"."""

    def __init__(self, index_terms: Collection[str], extra: Collection[str] = (), speller: Speller | None = None) -> None:
        self.terms = set(index_terms) | set(extra)
        self.prefixes = {t[:_PREFIX] for t in self.terms if len(t) >= _PREFIX}
        self.speller = speller or Speller()

    @classmethod
    def of(cls, index: "Index") -> "Vocabulary":
        """The vocabulary of `index`, computed once per index snapshot."""
        cached = _VOCABULARY_CACHE.get(id(index))
        if cached is not None and cached[0] is index:
            return cached[1]
        extra = set().union(*(metadata_terms(a) for a in index.articles.values())) if index.articles else set()

        def texts() -> Iterator[str]:  # counted only if a question has a word the archive lacks
            return (f"{a.title or ''}\n{a.text}" for a in index.articles.values())

        vocab = cls(index.bm25.vocab, extra, Speller(texts=texts))
        _VOCABULARY_CACHE.clear()  # one snapshot is current; an old one is not asked again
        _VOCABULARY_CACHE[id(index)] = (index, vocab)
        return vocab

    def __contains__(self, term: str) -> bool:
        return any(self._has(v) for v in _variants(term))

    def correct(self, question: str, is_word: Callable[[str], bool] = lambda w: False) -> str:
        """`question` with typos fixed to words the archive uses ("edcuation" -> "education").

        A word the archive lacks is kept when `is_word(word)` says it is a real word (the
        embedding model's tokenizer has it whole): "leaving" is not a typo of "leading".
        """

        def known(w: str) -> bool:
            return all(any(v in self.terms for v in _variants(t)) for t in terms(w)) or is_word(w)

        return self.speller.correct(question, known=known)

    def _has(self, t: str) -> bool:
        return t in self.terms or (len(t) >= _PREFIX and t[:_PREFIX] in self.prefixes)


_VOCABULARY_CACHE: dict[int, tuple["Index", Vocabulary]] = {}


def _variants(term: str) -> list[str]:
    """Spellings of one term: irregular verb, ordinal, British/American."""
    out = [term, _IRREGULAR.get(term, term), _ORDINALS.get(term, term)]
    out += [term.replace("is", "iz"), term.replace("iz", "is"), term.replace("enc", "ens"), term.replace("our", "or")]
    return out


def absent_terms(question: str, vocabulary: Vocabulary) -> list[str]:
    """The question's topic words (not frame words) that the archive never uses, as written."""
    out = []
    for w in dict.fromkeys(words(question)):
        parts = [p for p in re.split(r"[-'’]", w) if p] if "-" in w else [w]  # "NATO-Russia": both words
        for t in (t for p in parts for t in terms(p)):
            if t not in FRAME_TERMS and t not in vocabulary and not (t.isdigit() and _YEAR.match(t)):
                out.append(w)
                break
    return out


def _counted_noun(question: str) -> str | None:
    """The stem of what a "how many" question counts: "How many member states…" -> "member"."""
    m = re.search(r"\bhow many\s+(?:of\s+the\s+)?([\w-]+)", question.lower())
    return stem(m.group(1)) if m else None


def _has_count(sentence: str, question: str) -> bool:
    """A number (digits that are not a year or from the question, or a number word) stated in the sentence."""
    asked = numbers(question)
    sentence = _DATE_PHRASE.sub(" ", sentence)  # "February 12", "12 February 2020" are dates, not amounts
    if any(not _YEAR.match(n) and n not in asked for n in (q.replace(",", "").rstrip(".") for q in _QUANTITY.findall(sentence))):
        return True
    # "one" is as often a pronoun ("respected by one side") as a count: not evidence alone.
    return any(w != "one" for w in re.findall(rf"\b({_NUMBER_WORDS})\b", sentence.lower()))


def _counts_noun(sentence: str, noun: str) -> bool:
    """A number stands within three words before the counted noun: "three stages", "30 member states"."""
    toks = words(sentence.lower())
    for i, tok in enumerate(toks):
        if stem(tok)[:_PREFIX] == noun[:_PREFIX]:
            before = toks[max(0, i - 3):i]
            if any(re.fullmatch(_NUMBER_WORDS, b) or (re.fullmatch(r"\d[\d,.]*", b) and not _YEAR.match(b)) for b in before):
                return True
    return False


def _typed(kind: str | None, sentence: str, question: str) -> bool:
    if kind is None:
        return True
    if kind == "number":
        noun = _counted_noun(question)
        return _counts_noun(sentence, noun) if noun else _has_count(sentence, question)
    if kind == "date":
        return has_date(sentence)
    if kind == "alias":
        return bool(_ALIAS.search(sentence))
    own = {bare(w) for w in names(question)}
    return any(bare(n) not in own for n in names(sentence[1:]))  # a name beyond the question's own


def _key_terms(question: str, query: str) -> dict[str, float]:
    """Stems of the question's content words, names and numbers weighted double.

    Words a follow-up borrowed from earlier questions (in `query` only) count a quarter:
    they place the question in context but are not what it asks.
    """
    special = {t for w in names(query[1:]) | numbers(query) for t in terms(w)}
    own = set(terms(question))
    return {t: (2.0 if t in special else 1.0) * (1.0 if t in own else 0.25) for t in terms(query)}


def _topic(weights: dict[str, float]) -> dict[str, float]:
    """Key terms without the words that shape the answer ("designation", "year", "other").

    Whether the passages are about the question is judged on these: "What is its other
    designation? (9M729)" is answered by "known as the 9M729 or SSC-8". Ranking sentences
    still uses every key term (one that says "remarks" is the better pick).
    """
    topic = {t: w for t, w in weights.items() if t not in FRAME_TERMS or w > 1.0}
    return topic or weights


def _coverage(weights: dict[str, float], text_terms: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in text_terms) / total if total else 0.0


def gather(
    question: str, query: str, hits: Sequence[Hit], similarity: Similarity, config: Config,
    vocabulary: Vocabulary | None = None,
) -> Evidence:
    """Score every sentence of `hits` against the question and decide whether to answer.

    `vocabulary` (the whole archive's, `Vocabulary.of(index)`) lets the gate tell a question
    about something the archive never mentions from one whose passages were merely not found.
    """
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
    chunk_terms = [set(terms(h.chunk.text)) | metadata_terms(h.article) for h in hits]
    all_terms = set().union(*chunk_terms)
    absent = absent_terms(question, vocabulary) if vocabulary is not None else []
    absent_stems = {t for w in absent for t in terms(w)}
    special = [t for t, w in weights.items() if w > 1.0]
    # Names and numbers of the question found in no passage. One the archive never uses at
    # all is judged with the other absent words below ("Iranian" for an agency called IRNA).
    missing = tuple(t for t in special if t not in all_terms and t not in absent_stems)
    cands = []
    for (i, s, e), text, sim in zip(spans, texts, sims):
        sent_cov = _coverage(weights, set(terms(text)))
        ctx_cov = _coverage(weights, chunk_terms[i])
        cov = 0.7 * sent_cov + 0.3 * ctx_cov
        typed = _typed(kind, text, question)
        score = 0.55 * float(sim) + 0.45 * cov + (0.1 if typed and kind else 0.0) - (0.0 if typed else 0.3)
        cands.append(Candidate(i, s, e, text, cov, float(sim), typed, score))
    ranked = tuple(sorted(cands, key=lambda c: -c.score))
    topic = _topic(weights)
    best_cov = max((_coverage(topic, t) for t in chunk_terms), default=0.0)
    best_sim = max((c.similarity for c in ranked), default=0.0)
    typed_cands = [c for c in ranked if c.typed]
    if len(absent) >= 2 or (absent and best_sim < NEAR_PARAPHRASE):
        reason = f"the articles never mention {_quoted(absent)}"
    elif missing:
        said = [w for w in names(query[1:]) | numbers(query) if set(terms(w)) & set(missing)]
        reason = f"the passages found never mention {_quoted(sorted(said) or list(missing))}"
    elif best_cov < config.min_term_coverage:
        reason = f"the passages cover only {best_cov:.0%} of the question's key terms"
    elif best_sim < config.min_dense_similarity and not (kind and best_sim >= TYPED_MIN_SIMILARITY and any(
        _coverage(topic, set(terms(c.text))) >= 0.999 for c in typed_cands
    )):
        reason = f"the closest passage is too dissimilar ({best_sim:.2f})"
    elif not typed_cands:
        reason = f"no passage states the {kind} the question asks for"
    else:
        return Evidence(True, "", kind, best_cov, best_sim, (), _choose(typed_cands, weights, config), ranked)
    return Evidence(False, reason, kind, best_cov, best_sim, missing, (), ranked)


# A sentence that states every key term and the kind of thing asked for ("known as the
# 9M729 or SSC-8" for "its other designation? (9M729)") needs less dense similarity: MiniLM
# barely knows codes like 9M729, so a short follow-up scores low against its answer.
TYPED_MIN_SIMILARITY = 0.25
NEAR_PARAPHRASE = 0.75  # MiniLM cosine above which a sentence restates the question (one absent word is tolerated)


def _quoted(ws: Sequence[str]) -> str:
    q = [f"“{w}”" for w in ws]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + " or " + q[-1]


def _choose(ranked: list[Candidate], weights: dict[str, float], config: Config) -> tuple[Candidate, ...]:
    """The best sentence, plus runners-up close to it that add something.

    A runner-up (score within 10% of the best) is kept when it states a key term of the
    question that the sentences chosen so far do not, or when it covers the question as
    fully as the best one from another article (a second source for the same fact). A
    sentence that only shares the best one's words is left out: it would cite an article
    that does not answer the question.
    """
    best = ranked[0]
    chosen = [best]
    covered = set(terms(best.text)) & set(weights)
    for c in ranked[1:]:
        if len(chosen) >= config.max_answer_sentences:
            break
        if c.score < 0.9 * best.score or any(c.text == x.text for x in chosen):
            continue
        own = set(terms(c.text)) & set(weights)
        adds = {t for t in own - covered if weights[t] >= 1.0}
        if adds or c.coverage >= best.coverage:
            chosen.append(c)
            covered |= own
    return tuple(chosen)
