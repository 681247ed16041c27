"""Which retrieved sentence answers the question: candidates, their features, the ranker.

Why: retrieval almost always finds a sentence holding the answer; choosing it is the hard
part. Cosine similarity of question and sentence picks it about half the time on questions
nobody tuned for. A cross-encoder that reads the question and the sentence together,
fine-tuned for answer-sentence selection (`make model`, qa/train.py), does much better.

Decisions:
- Candidates are the sentences (4+ words) of the retrieved chunks, each once.
- Cheap signals first: every candidate gets its embedding similarity and term coverage;
  only the best `ranker_candidates` by those go through the cross-encoder (about 1 GFLOP a
  pair on a 2-core CPU, so pruning is what keeps ranking under 150 ms).
- The final sentence score is a small logistic model over the cross-encoder logit and the
  cheap features, fitted on the development half of SQuAD (qa/calibrate.py) and shipped
  beside the weights. Its output is a probability that the sentence holds the answer.
- The ranker is a slot: anything with `name` and `score(question, candidates)` fills it
  (`SimilarityRanker` is the old behaviour, kept for comparison and as the fallback named
  by `answer_ranker = "similarity"`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from qa.config import RANKER_PRECISIONS
from qa.errors import QAError
from qa.text import split_sentences, words
from qa.types import Hit

MIN_WORDS = 4  # shorter "sentences" are headings or fragments, never the answer
BUNDLED_RANKER = Path(__file__).resolve().parent.parent / "models" / "answer-ranker"
REBUILD = "run `make model` to rebuild it (or `git checkout models/` to restore the shipped one)"

Similarity = Callable[[str, list[str]], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved chunk, with every signal used to rank it."""

    hit: int  # index into the hits (0 = best retrieved)
    start: int  # offsets into the article's cleaned text
    end: int
    text: str
    title: str = ""
    similarity: float = 0.0  # embedding cosine to the query
    coverage: float = 0.0  # share of the question's key terms in the sentence (weighted)
    context_coverage: float = 0.0  # the same for its whole chunk plus the article's metadata
    typed: bool = True  # states the kind of thing asked for (or nothing in particular was asked)
    lead: bool = False  # the first sentence of its article
    ranker: float = 0.0  # the ranker's raw score (cross-encoder logit); 0 when not ranked
    score: float = 0.0  # final: probability that the sentence holds the answer

    def features(self) -> dict[str, float]:
        """The named inputs of the learned combination (qa/calibrate.py fits their weights)."""
        return {
            "ranker": self.ranker, "similarity": self.similarity, "coverage": self.coverage,
            "context_coverage": self.context_coverage, "typed": float(self.typed),
            "hit_rank": 1.0 / (1 + self.hit), "lead": float(self.lead),
        }


def candidate_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The (start, end) of every sentence of text[start:end] that can be an answer
    (MIN_WORDS+ words): the one definition training (qa/train.py) and ranking share."""
    return [(s, e) for s, e in split_sentences(text, start, end)
            if len(words(text[s:e])) >= MIN_WORDS]


def candidates(hits: Sequence[Hit]) -> list[Candidate]:
    """The sentences of the hits, in hit order, each (article, span) once."""
    out: list[Candidate] = []
    seen: set[tuple[str, int, int]] = set()
    for i, h in enumerate(hits):
        first = split_sentences(h.article.text[: min(len(h.article.text), 600)])[:1]
        for s, e in candidate_spans(h.article.text, h.chunk.start, h.chunk.end):
            key = (h.chunk.article_id, s, e)
            if key in seen:
                continue
            seen.add(key)
            out.append(Candidate(i, s, e, h.article.text[s:e], h.article.title, lead=bool(first) and first[0][0] == s))
    return out


class Ranker(Protocol):
    name: str

    def load(self) -> None:
        """Load the model now (otherwise the first `score` does)."""

    def score(self, question: str, cands: Sequence[Candidate]) -> np.ndarray:
        """One raw score per candidate, higher = more likely to hold the answer."""


class SimilarityRanker:
    """The embedding similarity already computed for each candidate (the old choice)."""

    name = "similarity"

    def load(self) -> None:
        pass  # nothing to load: the similarities come with the candidates

    def score(self, question: str, cands: Sequence[Candidate]) -> np.ndarray:
        return np.array([c.similarity for c in cands], dtype=np.float32)


PAIR_BATCH = 4  # pairs per forward pass, sorted by length (less padding; the scores are the same)
CPUINFO = Path("/proc/cpuinfo")


def native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (x86 AVX512-BF16 or AMX-BF16).
    Elsewhere torch emulates bf16, which is slower than fp32, so "auto" keeps fp32."""
    try:
        flags = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\b(?:avx512_bf16|amx_bf16)\b", flags) is not None


def resolve_precision(precision: str) -> str:
    """Config `ranker_precision` ("auto", "fp32", "bf16") -> the one used: "fp32" or "bf16"."""
    if precision not in RANKER_PRECISIONS:
        raise QAError(f"ranker_precision must be one of {', '.join(RANKER_PRECISIONS)}, not {precision!r}")
    return _auto_precision() if precision == "auto" else precision


@functools.lru_cache(maxsize=1)  # /proc/cpuinfo is read once: load_ranker resolves "auto" on every question
def _auto_precision() -> str:
    return "bf16" if native_bf16() else "fp32"


def pair_text(title: str, sentence: str) -> str:
    """What the cross-encoder reads after the question: "<title> | <sentence>"."""
    return f"{title} | {sentence}" if title else sentence


class CrossEncoderRanker:
    """One joint pass over (question, "title | sentence") -> a score: the shipped model
    (qa/pair_model.py, found by its ranker.json) or any sequence classifier with one logit.

    The shipped model's weights are checked against the SHA-256 in its manifest before they
    are read; a model given by Hugging Face id or folder is loaded as it is. Weights stay
    fp32; with precision "bf16" the forward pass runs under CPU autocast (matrix products in
    bfloat16, layer norms and softmax in fp32).
    """

    def __init__(self, path: Path | str, max_length: int = 128, precision: str = "fp32") -> None:
        self.path = path
        self.name = "cross-encoder" if Path(str(path)) == BUNDLED_RANKER else f"cross-encoder:{path}"
        self.max_length = max_length
        self.precision = resolve_precision(precision)
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForSequenceClassification, AutoTokenizer
                from transformers.utils import logging as hf_logging

                local = Path(str(self.path))
                if (local / "manifest.json").exists():
                    verify_manifest(local)
                verbosity = hf_logging.get_verbosity()
                hf_logging.set_verbosity_error()  # no load report on every start
                try:
                    tokenizer = AutoTokenizer.from_pretrained(str(self.path))
                    from qa.pair_model import HEAD_FILE, SegmentCosine

                    if (local / HEAD_FILE).exists():  # the shipped kind
                        model = SegmentCosine.load(local)
                    else:  # any sequence classifier with one logit, e.g. a Hugging Face cross-encoder
                        classifier = AutoModelForSequenceClassification.from_pretrained(str(self.path), dtype=torch.float32)
                        model = lambda **enc: classifier(**enc).logits[:, 0]  # noqa: E731
                except (OSError, ValueError) as e:
                    raise QAError(f"cannot load the answer ranker from {self.path}: {e}; {REBUILD}") from None
                finally:
                    hf_logging.set_verbosity(verbosity)
                self._tokenizer, self._model = tokenizer, model
        return self._tokenizer, self._model

    def load(self) -> None:
        self._load()

    def score(self, question: str, cands: Sequence[Candidate]) -> np.ndarray:
        if not cands:
            return np.zeros(0, dtype=np.float32)
        import torch

        tokenizer, model = self._load()
        texts = [pair_text(c.title, c.text) for c in cands]
        # Pairs run in small batches of similar length: one batch padded to its longest pair
        # spends about a third of its work on padding (bench: 231 -> 206 ms for 16 pairs).
        pairs = tokenizer([question] * len(texts), texts, truncation="only_second", max_length=self.max_length)
        order = np.argsort([len(ids) for ids in pairs["input_ids"]], kind="stable")
        out = np.zeros(len(texts), dtype=np.float32)
        for i in range(0, len(order), PAIR_BATCH):
            part = order[i:i + PAIR_BATCH]
            enc = tokenizer.pad({k: [pairs[k][j] for j in part] for k in pairs.keys()}, return_tensors="pt")
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                out[part] = model(**enc).float().numpy()
        return out


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic model over named features: p = sigmoid(bias + sum(w * x))."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def __call__(self, values: dict[str, float]) -> float:
        z = self.bias + sum(w * values[f] for f, w in zip(self.features, self.weights))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "weights": list(self.weights), "bias": self.bias}

    @classmethod
    def from_dict(cls, d: dict) -> "Logistic":
        return cls(tuple(d["features"]), tuple(float(w) for w in d["weights"]), float(d["bias"]))


@dataclass(frozen=True)
class Calibration:
    """What `make model` fits on the development half besides the weights.

    `sentence` turns a candidate's features into P(holds the answer); `answerable` turns the
    question-level evidence into P(the question's article is in the archive); `threshold` is
    the answerability below which the assistant refuses (chosen on development data);
    `hard_rules` are the gate's rules (qa.gate.RULES) that refuse on their own, the others
    only explain a low answerability.
    """

    sentence: Logistic
    answerable: Logistic
    threshold: float
    hard_rules: tuple[str, ...] = ("unknown_names",)

    @classmethod
    def load(cls, path: Path) -> "Calibration":
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(Logistic.from_dict(d["sentence"]), Logistic.from_dict(d["answerable"]), float(d["threshold"]),
                       tuple(d.get("hard_rules", cls.hard_rules)))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise QAError(f"the answer calibration {path} is missing or unreadable ({e}); {REBUILD}") from None


# Used when no fitted calibration is available (`answer_ranker = "similarity"`): the old
# hand-set mixture of similarity and coverage, squashed to (0, 1). Not a probability.
UNCALIBRATED = Calibration(
    Logistic(("similarity", "coverage", "context_coverage", "typed"), (5.5, 3.15, 1.35, 3.0), -6.0),
    # refuse below cosine 0.38 or half the topic terms covered, as the old gate did; each topic word
    # the archive never uses costs as much as 0.25 of similarity, so one absent paraphrase word
    # does not refuse a well-supported answer on its own (two usually do)
    Logistic(("best_similarity", "topic_coverage", "absent_words"), (12.0, 12.0, -3.0), -12.0 * 0.38 - 12.0 * 0.5), 0.5,
    ("unknown_names", "names_not_found", "no_typed_sentence"),  # the old gate: every rule refuses
)


def verify_manifest(directory: Path, what: str = "answer ranker") -> dict:
    """The manifest of a shipped model, after checking every file it lists by SHA-256."""
    from qa.train import sha256

    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QAError(f"the {what}'s manifest in {directory} is unreadable ({e}); {REBUILD}") from None
    for name, digest in files.items():
        f = directory / name
        if not f.is_file():
            raise QAError(f"the {what} file {f} is missing; {REBUILD}")
        if sha256(f) != digest:
            raise QAError(f"the {what} file {f} does not match its checksum (corrupt or changed); {REBUILD}")
    return manifest


# Pruning before the cross-encoder: the old gate's mixture of embedding similarity and term
# coverage, which keeps the answer sentence among its best 16 for nearly every question.
CHEAP_SIMILARITY_WEIGHT = 0.55


def cheap_score(similarity: float, coverage: float) -> float:
    """The signal that decides which candidates the cross-encoder reads."""
    return CHEAP_SIMILARITY_WEIGHT * similarity + (1 - CHEAP_SIMILARITY_WEIGHT) * coverage


def rank(question: str, cands: Sequence[Candidate], ranker: Ranker, calibration: Calibration, limit: int) -> list[Candidate]:
    """Candidates best first: the `limit` best by cheap signals are scored by `ranker`, then
    every candidate's final score comes from the calibrated combination (the rest keep
    ranker = 0 and sort below)."""
    cheap = sorted(range(len(cands)), key=lambda i: -cheap_score(cands[i].similarity, cands[i].coverage))
    top = cheap[:limit]
    raw = ranker.score(question, [cands[i] for i in top]) if top else np.zeros(0)
    scored = []
    for i, r in zip(top, raw):
        c = replace(cands[i], ranker=float(r))
        scored.append(replace(c, score=calibration.sentence(c.features())))
    return sorted(scored, key=lambda c: -c.score)


_RANKERS: dict[tuple[str, str], Ranker] = {}


def load_ranker(spec: str, precision: str = "auto") -> Ranker:
    """The ranker named by config `answer_ranker`: "" (the shipped cross-encoder),
    "similarity", or a Hugging Face id / folder of a cross-encoder, computing in config
    `ranker_precision`. Made once per (spec, precision)."""
    key = (spec, resolve_precision(precision))
    if key not in _RANKERS:
        if spec == "similarity":
            _RANKERS[key] = SimilarityRanker()
        else:
            path: Path | str = BUNDLED_RANKER if not spec else spec
            if not spec and not (BUNDLED_RANKER / "manifest.json").exists():
                raise QAError(f"the answer ranker is missing from {BUNDLED_RANKER}; {REBUILD}")
            _RANKERS[key] = CrossEncoderRanker(path, precision=precision)
    return _RANKERS[key]


def load_calibration(spec: str) -> Calibration:
    """The fitted calibration shipped with the bundled ranker, or the uncalibrated mixture."""
    if spec == "similarity":
        return UNCALIBRATED
    if not spec:
        verify_manifest(BUNDLED_RANKER)
        return Calibration.load(BUNDLED_RANKER / "calibration.json")
    folder = Path(spec)
    return Calibration.load(folder / "calibration.json") if (folder / "calibration.json").exists() else UNCALIBRATED


__all__ = ["Candidate", "Calibration", "CrossEncoderRanker", "Logistic", "Ranker", "SimilarityRanker", "candidate_spans", "candidates",
           "load_calibration", "load_ranker", "native_bf16", "rank", "resolve_precision"]
