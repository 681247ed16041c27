"""Sentence-level verification of a generated answer against the passages it cites.

A small generator paraphrases, mis-cites and invents. Every sentence of its answer must
earn its place:
1. its `[n]` markers must point at a passage (others are removed and recorded);
2. every name (capitalised word), number and date in it must appear in the passages it
   cites, compared loosely: case, thousands separators, "12 February" vs "February 12",
   "Russia" vs "Russian", ISO dates vs written ones;
3. its meaning must be supported: enough of what it says about those names (its content
   words other than names) occurs in the cited passages, and, when an embedder is given, it
   is close (cosine) to some sentence of them; that closest sentence must agree with it on
   what is negated: "NATO is not a dove of peace, but an instrument of confrontation"
   supports "NATO is an instrument of confrontation" and contradicts "NATO is a dove of
   peace" (a negation applies to the first content word after it and covers the rest of
   its clause).
   Swapped roles ("Russia approaches NATO's borders" vs the reverse) pass these checks:
   they need an entailment model, which a 2-core CPU budget does not afford.
A sentence without a valid marker, or whose markers fail, is checked against each passage
alone and cites the one that supports it best; if none does it is dropped with a reason.
Sentences come from `qa.text.split_sentences`, the splitter the rest of the pipeline uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from qa.lexicon import MONTHS, NUMBER_WORDS
from qa.text import STOPWORDS, bare, numbers, split_sentences, terms, words

MIN_OVERLAP = 0.5  # share of a sentence's content stems found in its cited passages
MIN_SIMILARITY = 0.5  # MiniLM cosine to the closest cited sentence (paraphrases scored 0.65-0.95,
# unrelated sentences about the same topic 0.2-0.4 on the bundled corpus)

_MARKERS = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_NEGATORS = frozenset("not no never none nor neither nothing without cannot".split())
# What a negation negates is read as the first content word after it, within its clause:
# in "NATO is not a dove of peace, but an instrument of confrontation" that is "dove".
_CLAUSE_END = frozenset("but while whereas although though yet however instead rather only".split())
_SCOPE_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|[,;:.!?()\[\]—–]")
NEGATION_SCOPE = 6  # content words a negation covers at most


@dataclass(frozen=True)
class Verified:
    text: str  # the kept sentences, with their (valid) markers, joined by spaces
    kept: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]  # (sentence, reason)
    removed_markers: tuple[int, ...]  # markers that pointed at no (supporting) passage
    supported: bool  # at least one sentence was kept

    def to_dict(self) -> dict:
        return {"text": self.text, "kept": list(self.kept), "dropped": [list(d) for d in self.dropped],
                "removed_markers": list(self.removed_markers), "supported": self.supported}


@dataclass(frozen=True)
class _Evidence:
    """What a passage (or a union of passages) offers to check claims against."""

    words: frozenset[str]  # lower-cased word tokens, 's stripped, plus month names of ISO dates
    numbers: frozenset[str]
    stems: frozenset[str]
    sentences: tuple[int, ...]  # rows of the passage-sentence embedding matrix


def _norm_number(n: str) -> str:
    n = n.replace(",", "").rstrip(".")
    return n.lstrip("0") or "0" if n.isdigit() else n


def _evidence_of(text: str, rows: tuple[int, ...]) -> _Evidence:
    ws = {bare(w) for w in words(text)}
    nums = {_norm_number(n) for n in numbers(text)}
    for y, m, d in _ISO_DATE.findall(text):  # "2020-02-12" also says February, 12, 2020
        if 1 <= int(m) <= 12:
            ws.add(MONTHS[int(m) - 1])
        nums.update({y, str(int(m)), str(int(d))})
    nums.update(NUMBER_WORDS[w] for w in ws if w in NUMBER_WORDS)  # "three" supports "3"
    return _Evidence(frozenset(ws), frozenset(nums), frozenset(terms(text)), rows)


def _merge(parts: list[_Evidence]) -> _Evidence:
    return _Evidence(
        frozenset().union(*(p.words for p in parts)),
        frozenset().union(*(p.numbers for p in parts)),
        frozenset().union(*(p.stems for p in parts)),
        tuple(r for p in parts for r in p.sentences),
    )


def _name_found(name: str, vocab: frozenset[str]) -> bool:
    """Exact, or the same word with a short ending changed: Russia/Russian, Ukraine/Ukrainian."""
    key = bare(name)
    if key in vocab:
        return True
    if len(key) < 5:
        return False
    for w in vocab:
        if w[:5] != key[:5]:
            continue
        common = 0
        for a, b in zip(w, key):
            if a != b:
                break
            common += 1
        if common >= max(5, max(len(w), len(key)) - 3):
            return True
    return False


def _claim_names(claim: str) -> list[str]:
    """Capitalised words that are not stopwords. A sentence-initial word passes the check
    when its lower-cased form is in the passage, so "Oil prices rose" is not a name problem."""
    out: list[str] = []
    for w in words(claim):
        if len(w) > 1 and w[0].isupper() and w.lower() not in STOPWORDS and w not in out:
            out.append(w)
    return out


def _content_stems(claim: str) -> set[str]:
    """Stems of the claim without its names (capitalised words after the first word).

    >>> sorted(_content_stems("Stoltenberg said NATO is an instrument of confrontation"))
    ['confront', 'instrument', 'stoltenberg']
    """
    ws = words(claim)
    kept = [w for i, w in enumerate(ws) if i == 0 or not w[0].isupper()]
    return set(terms(" ".join(kept)))


def _negations(text: str) -> tuple[set[str], set[str]]:
    """(heads, scope): the stem each negation applies to, and every content stem it covers
    up to the end of its clause (at most NEGATION_SCOPE). "not only" is no negation.

    >>> heads, scope = _negations("NATO is not a dove of peace, but an instrument of confrontation.")
    >>> sorted(heads), sorted(scope)
    (['dove'], ['dove', 'peac'])
    """
    heads: set[str] = set()
    scope: set[str] = set()
    left, opened = 0, False  # content words the current negation still covers; head not yet seen
    for tok in _SCOPE_TOKEN.findall(text.lower().replace("’", "'")):
        if tok in _NEGATORS or tok.endswith("n't"):
            left = NEGATION_SCOPE
            opened = True
        elif not tok[0].isalnum() or tok in _CLAUSE_END:
            left = 0
        elif left:
            found = terms(tok)
            if found:
                if opened:
                    heads.add(found[0])
                    opened = False
                scope.update(found)
                left -= 1
    return heads, scope


def _negation_differs(claim: str, claim_stems: set[str], passage_sentence: str) -> bool:
    """True when one side negates what the other asserts.

    The passage negates what the claim asserts: "NATO is a dove of peace" against "NATO is
    not a dove of peace". The claim negates what the passage asserts outside any negation:
    "NATO is not an instrument of confrontation" against "NATO is not a dove of peace, but
    an instrument of confrontation". "The alliance will not withdraw" is not contradicted by
    "the alliance does not agree with the need to withdraw": "withdraw" is under its "not".
    """
    claim_heads, _ = _negations(claim)
    passage_heads, passage_scope = _negations(passage_sentence)
    asserted = set(terms(passage_sentence)) - passage_scope
    return bool((passage_heads & claim_stems) - claim_heads) or bool(claim_heads & asserted)


def split_claims(text: str) -> list[tuple[str, str]]:
    """(sentence as written, gap before it). Markers that open a sentence on the same line
    belong to the sentence before: "NATO met. [1] It failed." cites [1] for "NATO met."."""
    spans = split_sentences(text)
    out: list[list[str]] = []
    prev_end = 0
    for s, e in spans:
        sent, gap = text[s:e], text[prev_end:s]
        prev_end = e
        lead = _LEADING_MARKERS.match(sent)
        if lead and out and "\n" not in gap:
            out[-1][0] += " " + lead.group(0).strip()
            sent = sent[lead.end():].strip()
            if not sent:
                continue
        out.append([sent, gap])
    return [(s, g) for s, g in out]


def _markers_in(sentence: str) -> list[int]:
    found: list[int] = []
    for m in _MARKERS.finditer(sentence):
        for n in re.split(r"\s*[,;]\s*", m.group(1)):
            if int(n) not in found:
                found.append(int(n))
    return found


def _strip_markers(sentence: str) -> str:
    s = _MARKERS.sub("", sentence)
    s = re.sub(r"\s+([.,;:!?])", r"\1", s)
    return re.sub(r"\s{2,}", " ", s).strip()


def _spell_date(m: re.Match) -> str:
    y, mo, d = m.groups()
    return f"{MONTHS[int(mo) - 1].title()} {int(d)}, {y}" if 1 <= int(mo) <= 12 else m.group(0)


def _with_markers(claim: str, ns: list[int]) -> str:
    """The claim with its markers before the final punctuation: "NATO met [1][2]."."""
    tags = "".join(f"[{n}]" for n in ns)
    m = re.search(r"[.!?…]+[\"'”’)]*$", claim)
    if m:
        return f"{claim[:m.start()]} {tags}{claim[m.start():]}"
    return f"{claim} {tags}"


def verify_answer(
    text: str,
    passages: Mapping[int, str],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    min_similarity: float = MIN_SIMILARITY,
    min_overlap: float = MIN_OVERLAP,
) -> Verified:
    """Keep the sentences of `text` that their passages support; say why the others went.

    `passages` maps marker numbers to passage text; `embed` returns L2-normalised rows.
    >>> v = verify_answer("NATO met in Brussels [1]. Biden came [1].", {1: "NATO met in Brussels."})
    >>> v.text, v.dropped
    ('NATO met in Brussels [1].', (('Biden came [1].', "name 'Biden' not in passage [1]"),))
    """
    sentences = split_claims(text)
    claims = [_strip_markers(s) for s, _ in sentences]
    # What is checked: ISO dates read as written dates, so "2020-02-12" needs "February 12".
    checked = [_ISO_DATE.sub(_spell_date, c) for c in claims]

    # Passage sentences and claims are embedded in one batch; rows index into `vectors`.
    passage_sentences: list[str] = []
    evidence: dict[int, _Evidence] = {}
    for n, ptext in passages.items():
        spans = split_sentences(ptext)
        rows = tuple(range(len(passage_sentences), len(passage_sentences) + len(spans)))
        passage_sentences += [ptext[a:b] for a, b in spans]
        evidence[n] = _evidence_of(ptext, rows)
    sentence_stems = [set(terms(x)) for x in passage_sentences]
    vectors = None
    if embed is not None and claims and passage_sentences:
        vectors = np.asarray(embed(passage_sentences + claims), dtype=np.float32)

    def check(ci: int, ns: list[int]) -> tuple[float, str]:
        """(score, "") when claim `ci` is supported by passages `ns` together, else (-1, reason)."""
        claim, ev = checked[ci], _merge([evidence[n] for n in ns])
        where = f"passage [{ns[0]}]" if len(ns) == 1 else "cited passages " + "".join(f"[{n}]" for n in ns)
        for name in _claim_names(claim):
            if not _name_found(name, ev.words):
                return -1.0, f"name '{name}' not in {where}"
        for num in sorted({_norm_number(x) for x in numbers(claim)}):
            if num not in ev.numbers:
                return -1.0, f"number '{num}' not in {where}"
        stems = set(terms(claim))
        if not stems:
            return -1.0, "no content words"
        # Names were checked above; the rest of the sentence (what is said about them) must
        # overlap on its own, so "Stoltenberg said X" cannot cite a passage that only names him.
        said = _content_stems(claim) or stems
        overlap = len(said & ev.stems) / len(said)
        if overlap < min_overlap:
            return -1.0, f"low word overlap {overlap:.2f} with {where}"
        rows = list(ev.sentences)
        if vectors is not None:
            sims = vectors[rows] @ vectors[len(passage_sentences) + ci]
            best, score = rows[int(np.argmax(sims))], float(np.max(sims))
            if score < min_similarity:
                return -1.0, f"low similarity {score:.2f} to {where}"
        else:
            best = max(rows, key=lambda r: len(stems & sentence_stems[r]), default=None)
            score = overlap
        # "NATO is a dove of peace" is not supported by "NATO is not a dove of peace".
        if best is not None and _negation_differs(claim, stems, passage_sentences[best]):
            return -1.0, f"negation differs from {where}: {passage_sentences[best]!r}"
        return score, ""

    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    removed: list[int] = []
    for ci, (sentence, _) in enumerate(sentences):
        if not claims[ci]:
            continue  # a sentence that was only markers
        if claims[ci].rstrip().endswith((":", ",", ";")):
            dropped.append((sentence, "unfinished sentence"))
            continue
        if any(_strip_markers(k).lower() == claims[ci].lower() for k in kept):
            dropped.append((sentence, "repeats an earlier sentence"))  # greedy decoding loops
            continue
        marked = _markers_in(sentence)
        valid = [n for n in marked if n in passages]
        removed += [n for n in marked if n not in passages and n not in removed]
        reason = ""
        if valid:
            score, reason = check(ci, valid)
            if score >= 0:
                kept.append(_with_markers(claims[ci], valid))
                continue
        # No usable marker: the passage that best supports the sentence alone gets cited.
        best, best_n, first_reason = -1.0, None, ""
        for n in passages:
            score, why = check(ci, [n])
            if score > best:
                best, best_n = score, n
            first_reason = first_reason or why
        if best_n is not None:
            removed += [n for n in valid if n not in removed]
            kept.append(_with_markers(claims[ci], [best_n]))
        else:
            if not passages:
                reason = "no passages to check against"
            elif not reason:
                reason = first_reason if len(passages) == 1 else f"not supported by any passage ({first_reason})"
            dropped.append((sentence, reason))
    return Verified(" ".join(kept), tuple(kept), tuple(dropped), tuple(removed), bool(kept))
