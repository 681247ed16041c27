"""The evidence gate: answer, or refuse and say why.

Why: an assistant that answers from the wrong passage is worse than one that says "the
articles don't say". The decision has two parts:
- rules, each a named function that returns a reason or None: a name or number the
  question asks about that no article mentions; names the archive has but no retrieved
  passage does; no passage stating the kind of thing asked for (a date for "when");
- a calibrated answerability score: a logistic model over the ranked evidence (the best
  sentence's probability and the runner-up's, similarity, coverage, topic words the archive
  never uses, names the passages lack, whether any sentence is of the asked type), fitted
  on SQuAD's development half — answerable questions against the same questions asked of
  an index without their article (qa/calibrate.py) — with its threshold chosen there.

Which rules refuse on their own is part of the calibration (`Calibration.hard_rules`): the
fitted one keeps only "no article mentions X", the principled one. On development data "no
passage gives the date" refused more answerable questions than unanswerable ones (21 vs 13)
and "the passages found never mention X" cost 2 % of answerable ones that the score refuses
more cheaply, so there both are features of the score and, when it refuses, the reason
given. A single absent paraphrase word lowers the score; it never refuses on its own.

Acronyms and their expansions are one term: "OSCE" in a question matches "Organization for
Security and Co-operation in Europe" in an article, learned from the archive's own names.
Article metadata (publisher, date, title) counts as part of each of its passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Collection, Iterator, Sequence

from qa.lexicon import (COUNT_PATTERN, FRAME_WORDS, HOW_QUANTITY, IRREGULAR_STEMS, MONTH_PATTERN, NAME_JOINERS, ORDINALS,
                        YEAR, is_plural)
from qa.ranker import Calibration, Candidate, Ranker, Similarity, candidates, rank
from qa.spelling import Speller
from qa.text import STOPWORDS, bare, has_date, human_date, names, numbers, stem, terms, words
from qa.types import Article, ArticleHeader, Filters, Hit

if TYPE_CHECKING:
    from qa.index import Index


@dataclass(frozen=True)
class Thresholds:
    """Every number the gate and the answer composition use, named and explained."""

    # Stems sharing this many leading letters are one word: "suspension"/"suspended",
    # "programme"/"program".
    shared_prefix: int = 6
    # Sentences scored by the cross-encoder: the best by cheap signals (similarity, coverage).
    # 16 covers the answer sentence for nearly every question whose top 5 chunks hold it.
    ranker_candidates: int = 16
    # A runner-up sentence joins the answer when its probability is at least this share of
    # the best one's and it adds a key term, the kind asked for, or is a second full source
    # (see qa/compose.py). Chosen on SQuAD dev-calibrate (1,000 questions) with the shipped
    # ranker: 0.8 / 0.3 gave containment 0.795 at 1.09 sentences per answer, 0.5 / 0.1 gives
    # 0.826 at 1.34.
    runner_up_share: float = 0.5
    # ... and at least this probability in absolute terms.
    runner_up_min: float = 0.1
    # Weight of a term a follow-up borrowed from earlier questions: it places the question
    # in context but is not what it asks.
    borrowed_weight: float = 0.25
    # Weight of names and numbers against other key terms.
    name_weight: float = 2.0
    # A summary request ("Summarise what the articles say about X") is answered when some
    # retrieved passage holds at least this share of X's (weighted) words; a fact's
    # calibrated answerability does not apply to an overview.
    summary_topic_coverage: float = 0.5
    # ... and quotes at most this many sentences, one per passage.
    summary_sentences: int = 4
    # With a filter on, the answer found inside it is refused, naming the filter, when the
    # best sentence of the whole archive lies outside the filter and is this many times as
    # likely to hold the answer: "Who said NATO is not a dove of peace?" dated to 2021-12-31
    # found a 2020 sentence at 0.14 while the 2022 quote outside scored 0.80 (bundled corpus).
    outside_filter_ratio: float = 2.0


THRESHOLDS = Thresholds()
FRAME_TERMS = frozenset(terms(" ".join(FRAME_WORDS), keep_stopwords=True))


# --- what is asked -----------------------------------------------------------------------

def answer_type(question: str) -> str | None:
    """The kind of thing the question asks for: "number", "date", "name", "alias", "place" or None.

    >>> answer_type("How many delegations met?"), answer_type("When did the talks end?"), answer_type("Who said it?")
    ('number', 'date', 'name')
    >>> answer_type("Where did the talks take place?")
    'place'
    >>> answer_type("What was the name of the storm that flooded Stellbrook?"), answer_type("What is the driver's name?")
    ('name', 'name')
    >>> answer_type("Where was the ferry bound when the collision happened?"), answer_type("What did he say when asked?")
    ('place', None)
    """
    q = question.lower().strip()
    if re.search(r"\b(other|another|alternative|also|official|nato|full) (name|designation|title)\b|\balso (known|called)\b|\bdesignat", q):
        return "alias"
    if re.search(rf"\bhow ({'|'.join(HOW_QUANTITY)})\b|\bwhat (number|percentage|share)\b", q):
        return "number"
    # "When ...", "Since when ...", "Please, when did ..." ask for a date; a "when" that joins a
    # clause is a conjunction ("Where was the ferry bound when the collision happened?").
    if re.search(r"^(?:[a-z]+ )?when\b|\bwhen (?:did|was|were|is|are|will|does|do|has|have|had|would|could|can|should)\b|\bwhen\?$|"
                 r"\bwhat (year|date|day|month)\b|"
                 r"\bon which (day|date)\b|\bin which year\b", q):
        return "date"
    if re.search(r"^(?:in |from |at |to |by )?(which|what) (?:[\w-]+ ){0,2}?(news agency|agency|newspaper|organi[sz]ation|body|"
                 r"company|party|person|official|minister|diplomat|leader|politician)\b", q):
        return "name"
    if re.search(r"^(who|whom)\b|\bwho (said|stated|called|warned|threatened|announced|is|was|were|leads|chairs)\b", q):
        return "name"
    # "What was the name of the storm?", "What were the names of the two people …?", "What is the driver's name?"
    if re.search(r"^(?:what|which) (?:is|was|are|were) (?:the )?(?:full )?names? of\b|^what (?:is|was) [\w’'\s-]+?['’]s? (?:full )?name\b", q):
        return "name"
    if re.search(r"^where\b|^(?:in |at )?(which|what) (?:[\w-]+ ){0,2}?(city|country|place|town|capital)\b", q):
        return "place"
    return None


# "known as the 9M729 or SSC-8", "dubbed ...", "called Sarmat": a sentence that gives a name for a thing.
_ALIAS = re.compile(
    r"\b(?:known as|also called|dubbed|designated|a\.k\.a\.?|code-?named|nicknamed)\b"
    r"|\bcalled\s+[\"“']?[A-Z0-9]"
    r"|\b[A-Z0-9]+(?:-[A-Z0-9]+)+\s+or\s+[A-Z0-9]|\b[A-Z0-9]{3,}\s+or\s+[A-Z0-9]+-[A-Z0-9]+"
)
# A quantity written in digits; not the digits of a code such as "SSC-8" or "9M729".
QUANTITY = re.compile(r"(?<![\w-])\d[\d,.]*%?(?![\w-])")
DATE_PHRASE = re.compile(rf"\b{MONTH_PATTERN}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{MONTH_PATTERN}", re.IGNORECASE)


COUNTED_PHRASE_WORDS = 5  # how far past "how many" the counted noun may be ("how many Saltmarsh Sound festival-goers")


def counted_noun(question: str) -> str | None:
    """The stem of what a "how many" question counts: the first plural among the words before
    its verb, past any name ("nursing positions", "Saltmarsh Sound festival-goers"), else the
    first of those words.

    >>> counted_noun("How many nursing positions were cut?"), counted_noun("How many Saltmarsh Sound festival-goers were hurt?")
    ('posit', 'festival-go')
    >>> counted_noun("How many member states voted?"), counted_noun("How many US troops are there?"), counted_noun("How many died?")
    ('state', 'troop', 'die')
    >>> counted_noun("How many fans attended The Glass Orchards concert?")
    'fan'
    """
    m = re.search(r"\bhow many\s+(?:of\s+the\s+)?", question, re.I)
    if not m:
        return None
    phrase: list[str] = []
    for w in words(question[m.end():])[:COUNTED_PHRASE_WORDS]:
        if w.islower() and w in STOPWORDS:  # "were", "did", "in": the noun phrase has ended ("US" is a name)
            break
        phrase.append(w)
    plural = [w for w in phrase if is_plural(w)]
    plural.sort(key=lambda w: not w.islower())  # a plain word before a name's ("Glass Orchards fans")
    return stem((plural[0] if plural else phrase[0]).lower()) if phrase else None


def has_count(sentence: str, question: str) -> bool:
    """A number (digits that are not a year or from the question, or a number word) stated in the sentence."""
    asked = numbers(question)
    sentence = DATE_PHRASE.sub(" ", sentence)  # "February 12", "12 February 2020" are dates, not amounts
    if any(not YEAR.match(n) and n not in asked for n in (q.replace(",", "").rstrip(".%") for q in QUANTITY.findall(sentence))):
        return True
    # "one" is as often a pronoun ("respected by one side") as a count: not evidence alone.
    return any(w != "one" for w in re.findall(rf"\b({COUNT_PATTERN})\b", sentence.lower()))


def counts_noun(sentence: str, noun: str, prefix: int = THRESHOLDS.shared_prefix) -> bool:
    """A number stands within three words before the counted noun: "three stages", "30 member states"."""
    toks = words(sentence.lower())
    for i, tok in enumerate(toks):
        if stem(tok)[:prefix] == noun[:prefix]:
            before = toks[max(0, i - 3):i]
            if any(re.fullmatch(COUNT_PATTERN, b) or (re.fullmatch(r"\d[\d,.]*", b) and not YEAR.match(b)) for b in before):
                return True
    return False


def typed(kind: str | None, sentence: str, question: str) -> bool:
    """Whether `sentence` states the kind of thing asked for (always, when nothing in particular is)."""
    if kind is None:
        return True
    if kind == "number":
        noun = counted_noun(question)
        return (counts_noun(sentence, noun) or has_count(sentence, question)) if noun else has_count(sentence, question)
    if kind == "date":
        return has_date(sentence)
    if kind == "alias":
        return bool(_ALIAS.search(sentence))
    own = {bare(w) for w in names(question)}
    return any(bare(n) not in own for n in names(sentence[1:]))  # a name (or place) beyond the question's own


# --- the archive's words -------------------------------------------------------------------

_CAPITALISED = re.compile(r"[A-Z][\w’'-]*")
MAX_NAME_WORDS = 8  # longer runs of capitalised words are headlines, not names


def acronyms_of(text: str) -> dict[str, set[str]]:
    """Acronyms a text's multi-word names could be written as, with the stems they stand for.

    >>> sorted(acronyms_of("the Organization for Security and Co-operation in Europe met"))
    ['coe', 'osc', 'osce', 'osco', 'oscoe', 'sce', 'sco', 'scoe']
    >>> "inf" in acronyms_of("the Intermediate-Range Nuclear Forces Treaty")
    True
    """
    out: dict[str, set[str]] = {}
    toks = words(text)
    i = 0
    while i < len(toks):
        if not _CAPITALISED.fullmatch(toks[i]):
            i += 1
            continue
        run = [toks[i]]
        j = i + 1
        while j < len(toks) and (_CAPITALISED.fullmatch(toks[j]) or (toks[j].lower() in NAME_JOINERS and j + 1 < len(toks)
                                                                    and _CAPITALISED.fullmatch(toks[j + 1]))):
            run.append(toks[j])
            j += 1
        caps = [w for w in run if w[0].isupper()][:MAX_NAME_WORDS]
        for a_, b_ in ((a_, b_) for a_ in range(len(caps)) for b_ in range(a_ + 2, len(caps) + 1)):
            part = caps[a_:b_]  # every run of 2+ capitalised words: "Intermediate-Range Nuclear Forces" of "... Treaty"
            short = "".join(w[0] for w in part).lower()
            full = "".join(p[0] for w in part for p in w.split("-") if p and p[0].isalpha()).lower()
            stems = set(terms(" ".join(part)))
            for acronym in {short, full}:
                if len(acronym) >= 3:
                    out.setdefault(acronym, set()).update(stems)
        i = j
    return out


class Vocabulary:
    """Every term the archive uses (chunk text, titles, metadata), for "is this topic covered at all",
    and the acronyms its names can be written as."""

    def __init__(self, index_terms: Collection[str], extra: Collection[str] = (), speller: Speller | None = None,
                 texts: Callable[[], Iterator[str]] | None = None) -> None:
        self.terms = set(index_terms) | set(extra)
        self.prefixes = {t[:THRESHOLDS.shared_prefix] for t in self.terms if len(t) >= THRESHOLDS.shared_prefix}
        self.speller = speller or Speller()
        self._texts = texts
        self._acronyms: dict[str, set[str]] | None = None

    @classmethod
    def of(cls, index: "Index") -> "Vocabulary":
        """The vocabulary of `index`, computed once per index snapshot."""
        cached = _VOCABULARY_CACHE.get(id(index))
        if cached is not None and cached[0] is index:
            return cached[1]
        extra = set().union(*(metadata_terms(h) for h in index.headers())) if index.articles else set()

        def texts() -> Iterator[str]:  # read only when first needed
            return (f"{a.title or ''}\n{a.text}" for a in index.articles.values())

        vocab = cls(index.terms(), extra, Speller(texts=texts), texts)
        _VOCABULARY_CACHE.clear()  # one snapshot is current; an old one is not asked again
        _VOCABULARY_CACHE[id(index)] = (index, vocab)
        return vocab

    @property
    def acronyms(self) -> dict[str, set[str]]:
        """{acronym: stems of the names it abbreviates}, from every multi-word name in the archive."""
        if self._acronyms is None:
            found: dict[str, set[str]] = {}
            for text in (self._texts() if self._texts else ()):
                for a, s in acronyms_of(text).items():
                    found.setdefault(a, set()).update(s)
            self._acronyms = found
        return self._acronyms

    def __contains__(self, term: str) -> bool:
        return any(self._has(v) for v in variants(term)) or term in self.acronyms

    def correct(self, question: str, is_word: Callable[[str], bool] = lambda w: False) -> str:
        """`question` with typos fixed to words the archive uses ("edcuation" -> "education").

        A word the archive lacks is kept when `is_word(word)` says it is a real word (the
        embedding model's tokenizer has it whole): "leaving" is not a typo of "leading".
        """

        def known(w: str) -> bool:
            return all(any(v in self.terms for v in variants(t)) for t in terms(w)) or is_word(w)

        return self.speller.correct(question, known=known)

    def _has(self, t: str) -> bool:
        p = THRESHOLDS.shared_prefix
        return t in self.terms or (len(t) >= p and t[:p] in self.prefixes)


_VOCABULARY_CACHE: dict[int, tuple["Index", Vocabulary]] = {}


def variants(term: str) -> list[str]:
    """Spellings of one term: irregular verb, ordinal, British/American."""
    out = [term, IRREGULAR_STEMS.get(term, term), ORDINALS.get(term, term)]
    out += [term.replace("is", "iz"), term.replace("iz", "is"), term.replace("enc", "ens"), term.replace("our", "or")]
    return out


def metadata_terms(article: Article | ArticleHeader) -> set[str]:
    """Terms an article's metadata adds to each of its passages: publisher, title, date parts."""
    text = " ".join(x for x in (article.publisher, article.title, human_date(article.date)) if x)
    return set(terms(text))


def absent_terms(question: str, vocabulary: Vocabulary) -> list[str]:
    """The question's topic words (not frame words) that the archive never uses, as written."""
    out = []
    for w in dict.fromkeys(words(question)):
        parts = [p for p in re.split(r"[-'’]", w) if p] if "-" in w else [w]  # "NATO-Russia": both words
        for t in (t for p in parts for t in terms(p)):
            if t not in FRAME_TERMS and t not in vocabulary and not (t.isdigit() and YEAR.match(t)):
                out.append(w)
                break
    return out


def is_name(word: str) -> bool:
    """A name or a number as the question writes it: capitalised (not its first word) or digits."""
    return word[:1].isupper() or any(ch.isdigit() for ch in word)


# --- key terms and coverage --------------------------------------------------------------

def key_terms(question: str, query: str, t: Thresholds = THRESHOLDS) -> dict[str, float]:
    """Stems of the question's content words, names and numbers weighted more.

    Words a follow-up borrowed from earlier questions (in `query` only) weigh less.
    """
    special = {s for w in names(query[1:]) | numbers(query) for s in terms(w)}
    own = set(terms(question))
    return {s: (t.name_weight if s in special else 1.0) * (1.0 if s in own else t.borrowed_weight) for s in terms(query)}


def topic(weights: dict[str, float]) -> dict[str, float]:
    """Key terms without the words that shape the answer ("designation", "year", "other")."""
    out = {s: w for s, w in weights.items() if s not in FRAME_TERMS or w > 1.0}
    return out or weights


Aliases = Collection[tuple[str, set[str]]]


def question_aliases(vocabulary: Vocabulary | None, keys: Collection[str]) -> Aliases:
    """The (acronym, expansion) pairs that can change coverage of `keys`: the acronym is a key,
    or its expansion holds one. Computed once per question, so each sentence's check reads a
    handful of pairs instead of every acronym of the archive."""
    if vocabulary is None:
        return ()
    keys = set(keys)
    return [(a, e) for a, e in vocabulary.acronyms.items() if a in keys or e & keys]


def with_aliases(text_terms: set[str], vocabulary: Vocabulary | None, pairs: Aliases | None = None) -> set[str]:
    """`text_terms` plus the acronym of every name it spells out and the words of every acronym it
    uses (among `pairs`, by default every acronym of the archive)."""
    if vocabulary is None:
        return text_terms
    out = set(text_terms)
    for acronym, expansion in (vocabulary.acronyms.items() if pairs is None else pairs):
        if acronym in text_terms:
            out |= expansion
        elif expansion and expansion <= text_terms:
            out.add(acronym)
    return out


def coverage(weights: dict[str, float], text_terms: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for s, w in weights.items() if s in text_terms) / total if total else 0.0


# --- refusal rules: each returns the reason for people, or None -----------------------------

def _quoted(ws: Sequence[str], joiner: str = "or") -> str:
    q = [f"“{w}”" for w in ws]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + f" {joiner} " + q[-1]


def unknown_names(absent: Sequence[str], question: str = "") -> str | None:
    """A name or number the question asks about that no article mentions at all (a capitalised
    first word, "Apart from …", is not a name)."""
    first = words(question)[:1]
    unknown = [w for w in absent if is_name(w) and w not in first]
    return f"no article mentions {_quoted(unknown)}" if unknown else None


def missing_names(question: str, query: str, passage_terms: set[str], absent: Sequence[str]) -> list[str]:
    """Names or numbers the question asks about that the archive has but no retrieved passage does."""
    absent_stems = {s for w in absent for s in terms(w)}
    asked = [w for w in names(query[1:]) | numbers(query) if w in question or w in query]
    prefixes = {p[:THRESHOLDS.shared_prefix] for p in passage_terms}  # "German" is found in "Germany"
    return sorted(w for w in asked if not set(terms(w)) & passage_terms and not set(terms(w)) & absent_stems
                  and not {s[:THRESHOLDS.shared_prefix] for s in terms(w)} & prefixes
                  and not set(terms(w)) <= FRAME_TERMS)


def names_not_found(question: str, query: str, passage_terms: set[str], absent: Sequence[str]) -> str | None:
    """Names or numbers the archive has but none of the retrieved passages does."""
    return _not_found(missing_names(question, query, passage_terms, absent))


def _not_found(missing: Sequence[str]) -> str | None:
    return f"the passages found never mention {_quoted(missing)}" if missing else None


def no_typed_sentence(kind: str | None, ranked: Sequence[Candidate]) -> str | None:
    """Nothing retrieved states the kind of thing asked for (a date for "when", a count for "how many")."""
    if kind is None or any(c.typed for c in ranked):
        return None
    what = {"number": "number", "date": "date", "name": "name", "alias": "other name", "place": "place"}[kind]
    return f"no passage gives the {what} the question asks for"


RULES = ("unknown_names", "names_not_found", "no_typed_sentence")  # the order reasons are given in


_ASKED_FOR = {"number": "the number asked for", "date": "when", "name": "who", "alias": "the other name asked for",
              "place": "where", None: "what the question asks"}


def not_answered(answerability: float, threshold: float, best: Candidate | None, question: str = "",
                 kind: str | None = None) -> str | None:
    """The calibrated answerability of the best sentence is below the threshold; the reason
    names what the closest passage is about and what it does not say.

    >>> best = Candidate(0, 0, 10, "NATO says the 9M729 missile violates the treaty.")
    >>> not_answered(0.1, 0.3, best, "What is the range of the 9M729 missile?", "number")
    'the closest passages mention “9M729” and “missile” but do not say the number asked for'
    """
    if best is not None and answerability >= threshold:
        return None
    shared = set(terms(best.text)) if best is not None else set()
    about = [w for w in dict.fromkeys(words(question))
             if (t := terms(w)) and set(t) <= shared and not set(t) <= FRAME_TERMS][:3]
    if not about:
        return "the closest passages do not answer the question"
    return f"the closest passages mention {_quoted(about, 'and')} but do not say {_ASKED_FOR.get(kind, _ASKED_FOR[None])}"


def not_about(topic_coverage: float, minimum: float, question: str) -> str | None:
    """A summary request whose topic no retrieved passage covers (half its words, by default)."""
    return None if topic_coverage >= minimum else f"no passage found is about “{question.strip(' ?.!')}”"


def outside_filter(inside: "Evidence", everywhere: "Evidence", hits: Sequence[Hit], filters: Filters,
                   t: Thresholds = THRESHOLDS) -> str | None:
    """The filter is why the question cannot be answered well: the whole archive's best
    sentence (`everywhere`, ranked over `hits`) lies outside it and is far more likely to
    hold the answer than anything inside (`inside`)."""
    best = everywhere.best
    if not everywhere.answerable or best is None or filters.accepts(hits[best.hit].article):
        return None
    if inside.answerable and inside.best is not None and inside.best.score * t.outside_filter_ratio > best.score:
        return None
    a = hits[best.hit].article
    who = a.byline or a.title or a.id
    where = "undated, so outside any date filter" if filters.has_dates and not a.date else "outside the filter"
    return f"no article within the filter ({filters.describe()}) answers it; {who} ({where}) does: remove the filter to see it"


def no_article_in(filters: Filters, undated: int) -> str:
    """The filter leaves no passage to search."""
    note = f"; {undated} undated article{'s' if undated != 1 else ''} cannot match a date filter" if undated else ""
    return f"no article matches the filter ({filters.describe()}){note}"


# --- the decision --------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """The outcome of the gate, with the numbers behind it (shown in `verification`)."""

    answerable: bool
    reason: str
    answer_type: str | None
    answerability: float
    signals: dict  # the question-level inputs of the answerability model
    ranked: tuple[Candidate, ...]  # best first
    weights: dict  # key terms of the question (stems) and their weights

    @property
    def best(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None

    def to_dict(self) -> dict:
        return {
            "answerable": self.answerable, "reason": self.reason, "answer_type": self.answer_type,
            "answerability": round(self.answerability, 3), "signals": {k: round(v, 3) for k, v in self.signals.items()},
        }


def signals(ranked: Sequence[Candidate], best_topic_coverage: float, absent_words: int, missing: int,
            kind: str | None) -> dict[str, float]:
    """The question-level features the answerability model reads (`ranked` best first)."""
    best = ranked[0] if ranked else None
    return {
        "best_score": best.score if best else 0.0,
        "second_score": ranked[1].score if len(ranked) > 1 else 0.0,  # a close runner-up: ambiguous evidence
        "best_ranker": best.ranker if best else -10.0,
        "best_similarity": max((c.similarity for c in ranked), default=0.0),
        "topic_coverage": best_topic_coverage,
        "best_coverage": best.coverage if best else 0.0,
        "best_context": best.context_coverage if best else 0.0,
        "absent_words": float(absent_words),  # topic words the archive never uses
        "missing_names": float(missing),  # names the archive has but the passages found do not
        "typed": float(best.typed) if best else 0.0,
        "no_typed": float(kind is not None and not any(c.typed for c in ranked)),
    }


def assess(
    question: str, query: str, hits: Sequence[Hit], similarity: Similarity, ranker: Ranker, calibration: Calibration,
    vocabulary: Vocabulary | None = None, threshold: float | None = None, t: Thresholds = THRESHOLDS,
    summary: bool = False,
) -> Evidence:
    """Rank every sentence of `hits` for the question and decide whether to answer.

    `vocabulary` (the whole archive's, `Vocabulary.of(index)`) lets the gate tell a question
    about something the archive never mentions from one whose passages were merely not found.
    With `summary`, `question` is the topic of an overview: it is answered when the archive
    knows its names and a passage covers it (`not_about`), whatever a fact's answerability.
    """
    kind = None if summary else answer_type(question)
    weights = key_terms(question, query, t)
    if not hits or not weights:
        return Evidence(False, "no passage matches the question", kind, 0.0, {}, (), weights)
    cands = candidates(hits)
    sims = similarity(query, [c.text for c in cands]) if cands else []
    pairs = question_aliases(vocabulary, weights)
    chunk_terms = [with_aliases(set(terms(h.chunk.text)) | metadata_terms(h.article), vocabulary, pairs) for h in hits]
    cands = [replace(c, similarity=float(s), typed=typed(kind, c.text, question),
                     coverage=coverage(weights, with_aliases(set(terms(c.text)), vocabulary, pairs)),
                     context_coverage=coverage(weights, chunk_terms[c.hit]))
             for c, s in zip(cands, sims)]
    ranked = tuple(rank(query, cands, ranker, calibration, t.ranker_candidates))
    absent = absent_terms(question, vocabulary) if vocabulary is not None else []
    best_topic = max((coverage(topic(weights), ct) for ct in chunk_terms), default=0.0)
    passage_terms = set().union(*chunk_terms)
    missing = missing_names(question, query, passage_terms, absent)
    paraphrase = [w for w in absent if not is_name(w) or w in words(question)[:1]]
    sig = signals(ranked, best_topic, len(paraphrase), len(missing), kind)
    p = calibration.answerable(sig)
    limit = calibration.threshold if threshold is None else threshold
    # Each rule explains a refusal; only the calibration's `hard_rules` refuse on their own,
    # the others are features of the answerability score and name the reason when it refuses.
    found = {"unknown_names": unknown_names(absent, question),
             "names_not_found": _not_found(missing),
             "no_typed_sentence": no_typed_sentence(kind, ranked)}
    if summary:
        reason = found["unknown_names"] or not_about(best_topic, t.summary_topic_coverage, question)
        return Evidence(reason is None, reason or "", None, p, sig, ranked, weights)
    low = not_answered(p, limit, ranked[0] if ranked else None, question, kind)
    hard = next((found[r] for r in calibration.hard_rules if found[r]), None)
    explained = next((found[r] for r in RULES if found[r]), None)
    reason = hard or (low and (explained or low))
    return Evidence(reason is None, reason or "", kind, p, sig, ranked, weights)


__all__ = ["Evidence", "THRESHOLDS", "Thresholds", "Vocabulary", "absent_terms", "acronyms_of", "answer_type", "assess",
           "key_terms", "metadata_terms", "no_article_in", "outside_filter", "typed"]
