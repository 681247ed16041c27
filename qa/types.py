"""Typed values passed between the stages of the pipeline.

article -> chunks -> hits -> answer with citations. Each is a small frozen dataclass that
validates itself on construction, so a bad value fails where it is made, not three
modules later. Ids are derived from content, so evaluation labels survive a rebuild.
`to_dict()` gives the JSON shape used by the CLI, the web app and the evaluation alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from qa.text import ISO_DATE, date_span, human_date


def content_id(*parts: object, length: int = 16) -> str:
    """A short stable hash of its parts: `content_id("a.txt", 0, 10)` is the same every run."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]


@dataclass(frozen=True)
class Article:
    """One cleaned news article. `id` is its file name (or the record's `id`)."""

    id: str
    text: str
    title: str = ""
    date: str | None = None  # ISO date when known, with its precision: YYYY-MM-DD, YYYY-MM or YYYY
    publisher: str | None = None
    url: str | None = None
    path: str | None = None  # where it was read from, for messages only

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise ValueError("Article.id must be non-empty")
        if not self.text or not self.text.strip():
            raise ValueError(f"Article {self.id!r} has no text")
        if self.date is not None and not ISO_DATE.fullmatch(self.date):
            raise ValueError(f"Article {self.id!r}: date {self.date!r} is not YYYY-MM-DD, YYYY-MM or YYYY")

    @property
    def byline(self) -> str:
        """Who published it and when: "TASS, 12 February 2020"; "" when neither is known."""
        return ", ".join(p for p in (self.publisher, human_date(self.date)) if p)

    @property
    def checksum(self) -> str:
        """Hash of the cleaned text and metadata: equal checksums mean nothing to re-embed."""
        return content_id(self.text, self.title, self.date, self.publisher, self.url, length=32)

    def meta(self) -> dict[str, Any]:
        """Metadata without the text (what the chunk store and citations carry)."""
        d = asdict(self)
        del d["text"]
        return d

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArticleHeader:
    """An article's metadata without its text: what the index keeps in memory for every
    article (the text stays on disk until a passage of it is cited)."""

    id: str
    title: str = ""
    date: str | None = None
    publisher: str | None = None
    url: str | None = None
    path: str | None = None

    @classmethod
    def of(cls, article: Article) -> "ArticleHeader":
        return cls(**article.meta())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A span of an article's cleaned text: `article.text[start:end] == text`."""

    article_id: str
    start: int
    end: int
    text: str
    id: str = ""

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"Chunk offsets [{self.start}, {self.end}) are not a span")
        if len(self.text) != self.end - self.start:
            raise ValueError(
                f"Chunk text has {len(self.text)} chars but offsets span {self.end - self.start}"
            )
        if not self.id:
            object.__setattr__(self, "id", content_id(self.article_id, self.start, self.end))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks each retriever gave it."""

    chunk: Chunk
    article: Article  # metadata; `text` is the full cleaned article
    score: float
    dense_rank: int | None = None  # 1-based; None when the dense retriever did not return it
    bm25_rank: int | None = None
    dense_score: float | None = None
    bm25_score: float | None = None
    also_in: tuple[Article, ...] = ()  # wire copies of this article that retrieval folded into this hit (qa/wire.py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk.id,
            "source": self.chunk.article_id,
            "title": self.article.title,
            "date": self.article.date,
            "publisher": self.article.publisher,
            "url": self.article.url,
            "text": self.chunk.text,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "score": round(self.score, 6),
            "dense_rank": self.dense_rank,
            "bm25_rank": self.bm25_rank,
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "bm25_score": None if self.bm25_score is None else round(self.bm25_score, 6),
        }


@dataclass(frozen=True)
class Citation:
    """What an `[n]` marker points at: a quoted passage with offsets into its article."""

    n: int
    source: str  # article id, i.e. its file name
    title: str
    date: str | None
    publisher: str | None
    url: str | None
    quote: str
    start: int
    end: int
    score: float
    # other outlets that ran the same story (wire copies): [{"source", "publisher", "date"}]
    also_in: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("Citation numbers start at 1")
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"Citation offsets [{self.start}, {self.end}) are not a span")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(self.score, 6)
        d["also_in"] = [dict(x) for x in self.also_in]
        return d


@dataclass(frozen=True)
class ShortAnswer:
    """The answer itself inside a cited sentence: "SSC-8", "12 February 2020", "Dmitry Peskov".

    `start`/`end` are offsets into the cleaned text of article `source`, cited as `[citation]`.
    """

    text: str
    kind: str  # "number", "date", "name", "alias" or "place"
    citation: int
    source: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.text.strip() or self.start < 0 or self.end - self.start != len(self.text):
            raise ValueError(f"ShortAnswer {self.text!r} [{self.start}, {self.end}) is not a span of its text")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The result of `ask`: text with `[n]` markers, or a refusal with the closest passages."""

    question: str
    search_query: str
    text: str
    refused: bool
    mode: str  # "extractive" or "generative"
    citations: tuple[Citation, ...] = ()
    closest: tuple[Citation, ...] = ()  # on refusal: the nearest passages, for the user to check
    verification: dict[str, Any] = field(default_factory=dict)  # what the verifier did
    timings_ms: dict[str, float] = field(default_factory=dict)
    short_answer: ShortAnswer | None = None  # the span of the expected type in the first citation
    # the filters the search applied (`Filters.to_dict()` plus "undated_excluded": articles
    # without a date that a date filter left out); None when nothing restricted it
    filters: dict[str, Any] | None = None
    # the period the question named ("in February 2020": `qa.dates.Period.to_dict()` plus
    # "applied": "mentions" = passages published in or naming a day of it, "published" =
    # a filter on publication date); None when the question names no time
    date_filter: dict[str, Any] | None = None
    # passages that disagree on the date or number asked for (qa/conflicts.py):
    # [{"what": question, "values": [{"value": "January 20", "citations": [1]}, ...]}]
    conflicts: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "search_query": self.search_query,
            "answer": self.text,
            "refused": self.refused,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "short_answer": self.short_answer.to_dict() if self.short_answer else None,
            "filters": self.filters,
            "date_filter": self.date_filter,
            "conflicts": list(self.conflicts),
            "closest": [c.to_dict() for c in self.closest],
            "verification": self.verification,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to a date range (inclusive, ISO dates), publishers or article ids.

    Empty tuples and None mean "no restriction". Articles without a date never match a
    date filter; one dated to a month or year matches when that month or year overlaps it.
    """

    date_from: str | None = None
    date_to: str | None = None
    publishers: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.date_from or self.date_to or self.publishers or self.article_ids)

    @property
    def has_dates(self) -> bool:
        return bool(self.date_from or self.date_to)

    def describe(self) -> str:
        """The filter in words, as its chip reads.

        >>> Filters(date_to="2021-12-31", publishers=("TASS",)).describe()
        'TASS · dated to 2021-12-31'
        """
        parts = [", ".join(self.publishers)] if self.publishers else []
        if self.date_from and self.date_to:
            parts.append(f"dated {self.date_from} to {self.date_to}")
        elif self.date_from or self.date_to:
            parts.append(f"dated from {self.date_from}" if self.date_from else f"dated to {self.date_to}")
        if self.article_ids:
            parts.append(f"{len(self.article_ids)} chosen article" + ("s" if len(self.article_ids) > 1 else ""))
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"date_from": self.date_from, "date_to": self.date_to, "publishers": list(self.publishers),
                "article_ids": list(self.article_ids), "text": self.describe()}

    def accepts(self, article: Article | ArticleHeader) -> bool:
        if self.article_ids and article.id not in self.article_ids:
            return False
        if self.publishers:
            wanted = {p.casefold() for p in self.publishers}
            if (article.publisher or "").casefold() not in wanted:
                return False
        if self.date_from or self.date_to:
            if not article.date:
                return False
            first, last = date_span(article.date)  # an article dated "2023-12" matches any day of December
            if self.date_from and last < self.date_from:
                return False
            if self.date_to and first > self.date_to:
                return False
        return True


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one input file during ingestion or indexing.

    status: "read" (parsed; set by ingestion), "added" (new articles indexed), "updated"
    (changed, re-embedded), "unchanged" (already indexed with the same content),
    "duplicate" (same text as another article), or "rejected" (message says why: empty,
    binary, unsupported, too large, malformed). A partly bad JSONL file is "read" with a
    message naming its bad lines.
    """

    path: str
    status: str
    message: str = ""
    article_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != "rejected"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["article_ids"] = list(self.article_ids)
        return d


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: "status" (e.g. "Searched for: ..."), "delta" (more
    answer text to append), or "final" (the finished, verified `Answer`; its text may differ
    from the concatenated deltas when verification dropped a sentence)."""

    kind: str
    text: str = ""
    answer: Answer | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("status", "delta", "final"):
            raise ValueError(f"unknown StreamEvent kind {self.kind!r}")
        if self.kind == "final" and self.answer is None:
            raise ValueError("a final StreamEvent carries the Answer")
