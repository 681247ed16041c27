"""Turn a scraped news page (plain text, markdown or HTML) into clean article text plus metadata.

Why a module of its own: the cleaned text is the ground truth every later stage cites by
character offset, so how it is made must be decided in one place and be pure (no I/O).

Decisions:
- Words are never rewritten. Cleaning only drops whole boilerplate lines (comment forms,
  "Latest Posts", photo credits and their captions, bare URLs, punctuation-only lines),
  removes inline junk that is not prose (image tags, data URIs, markdown images,
  "(Image: AP)" credits) and normalises whitespace: runs of spaces become one space, a line
  break stays "\\n", one or more blank lines become one paragraph break "\\n\\n".
- Metadata is taken only where the page states it: a leading `date YYYY-MM-DD` token, a
  `Source: X` line, a TASS/Reuters dateline, a bare URL. A dateline gives month and day but
  no year, so it never yields a date: a wrong date is worse than none for date filters.
- The headline is a short first line without a final period; a repeated headline is
  kept once. Without one, the title is the first sentence, cut on a word boundary.
- A comment form or "Latest Posts" marker ends the article: what follows on scraped pages
  is other articles' headlines or readers' comments, not this article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date as _date
from html.parser import HTMLParser
from urllib.parse import urlsplit

from qa.lexicon import MONTH_NUMBERS, WEEKDAYS

TITLE_MAX = 100  # fallback titles (first sentence) are cut to this many characters
HEADLINE_MAX = 150  # a first line longer than this is prose, not a headline


@dataclass(frozen=True)
class Cleaned:
    """Cleaned article text and whatever metadata the page itself stated."""

    text: str
    title: str = ""
    date: str | None = None  # YYYY-MM-DD
    publisher: str | None = None
    url: str | None = None


# --- dates ---------------------------------------------------------------------------

_MON = r"([A-Za-z]{3,9})\.?"
_DATE_FORMS = (  # (regex, order of year/month/day groups)
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?"), "ymd"),
    (re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"), "ymd"),
    (re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})"), "ymd"),
    (re.compile(rf"(\d{{1,2}})(?:st|nd|rd|th)? {_MON},? (\d{{4}})"), "dmy"),
    (re.compile(rf"{_MON} (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})"), "mdy"),
)
# A weekday opening a date ("Wed, 12 Feb 2020", "Thursday 12 February 2020"): the full name or
# its usual abbreviations, never any word that merely starts like one ("Monsoon 2020").
_WEEKDAY = re.compile(rf"^(?:{'|'.join(WEEKDAYS)}|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?,?\s+", re.I)


_PARTIAL_FORMS = (  # a month or a year only: kept with that precision
    (re.compile(r"(\d{4})-(\d{1,2})"), "ym"),
    (re.compile(r"(\d{4})/(\d{1,2})"), "ym"),
    (re.compile(rf"{_MON},? (\d{{4}})"), "my"),
    (re.compile(r"(\d{4})"), "y"),
)


def normalise_date(s: object) -> str | None:
    """An ISO date for a date written in a common way, with its precision (`YYYY-MM-DD`,
    or `YYYY-MM` / `YYYY` when only the month or year is given), else None.

    >>> [normalise_date(x) for x in ("2020-02-12T10:00:00Z", "12 February 2020", "Feb 12, 2020", "2020/02/12", "soon")]
    ['2020-02-12', '2020-02-12', '2020-02-12', '2020-02-12', None]
    >>> [normalise_date(x) for x in ("2023-12", "December 2023", "2023", "2023-13")]
    ['2023-12', '2023-12', '2023', None]
    >>> [normalise_date(x) for x in ("Wed, 12 Feb 2020", "Thurs. Feb 13, 2020", "Monsoon 2020")]
    ['2020-02-12', '2020-02-13', None]
    """
    if not isinstance(s, str):
        return None
    s = _WEEKDAY.sub("", " ".join(s.split()))
    for pattern, order in _PARTIAL_FORMS:
        m = pattern.fullmatch(s)
        if not m:
            continue
        parts = dict(zip(order, m.groups()))
        if not 1000 <= int(parts["y"]) <= 2999:
            return None
        if "m" not in parts:
            return parts["y"]
        month = parts["m"]
        month_no = int(month) if month.isdigit() else MONTH_NUMBERS.get(month.lower())
        return f"{parts['y']}-{month_no:02d}" if month_no and 1 <= month_no <= 12 else None
    for pattern, order in _DATE_FORMS:
        m = pattern.fullmatch(s)
        if not m:
            continue
        parts = dict(zip(order, m.groups()))
        month = parts["m"]
        month_no = int(month) if month.isdigit() else MONTH_NUMBERS.get(month.lower())
        if month_no is None:
            return None
        try:
            return _date(int(parts["y"]), month_no, int(parts["d"])).isoformat()
        except ValueError:  # 2020-02-30 and the like
            return None
    return None


# --- line-level boilerplate -----------------------------------------------------------

_INLINE_JUNK = re.compile(
    r"<([\w-]+:)?image\b[^>]*>.*?</([\w-]+:)?image>"  # scraped image placeholders, also namespaced
    r"|<img\b[^>]*>"
    r"|!\[[^\]]*\]\([^)]*\)"  # markdown images
    r"|data:image/[^\s\"'<>)]+"  # bare data URIs
    r"|\((?:image|photo|picture|pic|credit)s?\s*:[^)]*\)",  # "(Image: AP/Representative)"
    re.I | re.S,
)
_JUNK_LINES = re.compile(
    r"(?:all news|latest news|latest posts|related (?:posts|articles|news|stories)|read more|"
    r"share(?: this(?: article)?)?|advertisement|leave a (?:reply|comment)|cancel reply|post comment|"
    r"your email address will not be published\.?(?: required fields are marked \*)?|"
    r"required fields are marked \*|you may also like|comments?|print|subscribe)[:.]?",
    re.I,
)
# After these nothing belongs to the article (comments, other articles' headlines).
_END_MARKERS = re.compile(r"(?:leave a (?:reply|comment)|latest posts|you may also like|related (?:posts|articles))[:.]?", re.I)
_URL_LINE = re.compile(r"<?(https?://\S+?)>?")
# "Source: IZ" names a publisher; "Source: a senior diplomat said that ..." is prose and stays.
_SOURCE_LINE = re.compile(r"source:\s*([^\s.!?,;](?:[^.!?,;]{0,38}[^\s.!?,;])?)\.?", re.I)
_SOURCE_URL = re.compile(r"source:\s*<?(https?://\S+?)>?", re.I)
_DATE_LINE = re.compile(r"(?:date|published(?: on)?)\s*:\s*(.{6,40})", re.I)
_LEADING_DATE = re.compile(r"\s*date:?\s+(\d{4}-\d{2}-\d{2})\s+", re.I)
_PHOTO_CREDIT = re.compile(r"(?:©|\(c\)|photo:|photo credit:|image credit:)\s*\S.{0,80}", re.I)
# "NATO Secretary General Jens Stoltenberg EPA-EFE/KOCA SULEJMANOVIC": ends AGENCY/NAME in capitals
_CAPTION_CREDIT = re.compile(
    r".{0,160}?(?:\b[A-Z][A-Z-]{1,15}/[A-Z][A-Z .'-]{2,40}|\b(?:AP Photo|Getty Images|Reuters|AFP)/[A-Z][\w .'-]{2,40})")
_PUNCT_ONLY = re.compile(r"[^\w]+")
_DATELINE = re.compile(
    r"(?P<place>[A-Z][A-Za-z.'-]+(?: [A-Z][A-Za-z.'-]+)*), (?P<md>[A-Z][a-z]+\.? \d{1,2})(?:, (?P<y>\d{4}))?\. "
    r"/(?P<pub>[A-Za-z-]{2,20})/\."
    r"|(?P<place2>[A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]+)*)(?:, [A-Z][a-z]+\.? \d{1,2})? \((?P<pub2>[A-Z][\w&.'-]*(?: [A-Z][\w&.'-]*){0,3})\) [-–—]"
)


def _is_sentence_end(line: str) -> bool:
    return line.rstrip("\"'”’)»").endswith((".", "!", "?", "…"))


def _is_caption(line: str) -> bool:
    return len(line) <= HEADLINE_MAX and not _is_sentence_end(line)


def _strip_lines(raw: str) -> list[str]:
    """Split into lines, drop inline junk, collapse spaces; blank lines become "".

    A line that held only junk (an image tag) disappears instead of becoming a blank line,
    so it does not split a paragraph.
    """
    lines = []
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").splitlines():
        stripped = " ".join(_INLINE_JUNK.sub(" ", line).split())
        if stripped or not line.strip():
            lines.append(stripped)
    return lines


def _host_publisher(url: str | None) -> str | None:
    host = (urlsplit(url).hostname or "").lower() if url else ""
    return host.removeprefix("www.") or None


_ABBREV = {"mr", "mrs", "ms", "dr", "st", "no", "jr", "sr", "gen", "col", "gov", "sen", "rep", "lt", "sgt", "prof",
           "jan", "feb", "mar", "apr", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e", "vs"}


def _sentence_title(text: str) -> str:
    """The first sentence, without its final period, cut to TITLE_MAX on a word boundary."""
    first = text.split("\n", 1)[0]
    sentence = first
    for m in re.finditer(r"[.!?](?=[\"”’)]*\s+[\"“‘(]*[A-Z0-9])", first):
        word = re.findall(r"[\w.]+$", first[: m.start()])
        if word and (word[0].lower() in _ABBREV or len(word[0]) == 1):
            continue  # "Mr. Smith", "Jan. 12", "J. Stoltenberg"
        sentence = first[: m.end()]
        break
    if sentence.endswith("."):
        sentence = sentence[:-1]
    if len(sentence) <= TITLE_MAX:
        return sentence
    cut = sentence[: TITLE_MAX].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return cut + "…"


def clean_news_text(raw: str) -> Cleaned:
    """Clean a plain-text news article and pick up the metadata it states.

    >>> c = clean_news_text(" date 2020-02-12 BRUSSELS, February 12. /TASS/. NATO met.\\n\\nLeave a Reply")
    >>> (c.text, c.date, c.publisher)
    ('BRUSSELS, February 12. /TASS/. NATO met.', '2020-02-12', 'TASS')
    >>> clean_news_text("TALLINN, February 3 (Baltic Wire) - Estonia said so.").publisher
    'Baltic Wire'
    """
    date = publisher = url = None
    m = _LEADING_DATE.match(raw)
    if m and normalise_date(m.group(1)):
        date, raw = normalise_date(m.group(1)), raw[m.end():]
    lines = _strip_lines(raw)
    kept: list[str] = []  # "" marks a paragraph break
    for line in lines:
        if not line:
            kept.append("")
            continue
        if _END_MARKERS.fullmatch(line) and any(kept):
            break
        if (um := _URL_LINE.fullmatch(line)):
            url = url or um.group(1)
            continue
        if (um := _SOURCE_URL.fullmatch(line)):
            url = url or um.group(1)
            continue
        if (sm := _SOURCE_LINE.fullmatch(line)) and len(sm.group(1).split()) <= 5:
            publisher = publisher or sm.group(1)
            continue
        if (dm := _DATE_LINE.fullmatch(line)) and normalise_date(dm.group(1)):
            date = date or normalise_date(dm.group(1))
            continue
        if _PHOTO_CREDIT.fullmatch(line):
            # the caption just above a credit line belongs to the photo too (but not the headline)
            last = max((j for j, k in enumerate(kept) if k), default=None)
            if last is not None and _is_caption(kept[last]) and sum(1 for k in kept if k) > 1:
                del kept[last]
            continue
        if (_JUNK_LINES.fullmatch(line) or _PUNCT_ONLY.fullmatch(line)
                or (_CAPTION_CREDIT.fullmatch(line) and not _is_sentence_end(line))):
            continue
        kept.append(line)
    paragraphs = _paragraphs(kept)
    title = ""
    if paragraphs:
        first = paragraphs[0][0]
        rest = [ln for p in paragraphs for ln in p][1:]
        if len(first) <= HEADLINE_MAX and not _is_sentence_end(first) and len(first.split()) >= 2 and rest:
            title = first
            paragraphs = _drop_repeats(paragraphs, first)
    for p in paragraphs[:3]:
        dl = _DATELINE.match(p[0])
        if dl:
            publisher = publisher or dl.group("pub") or dl.group("pub2")
            if dl.group("y") and not date:  # month, day and year all stated
                date = normalise_date(f"{dl.group('md')} {dl.group('y')}")
            break
    text = "\n\n".join("\n".join(p) for p in paragraphs)
    if not title and text:
        body = text
        if (dl := _DATELINE.match(body)):
            body = body[dl.end():].lstrip()
        title = _sentence_title(body or text)
    publisher = publisher or _host_publisher(url)
    return Cleaned(text=text, title=title, date=date, publisher=publisher, url=url)


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _drop_repeats(paragraphs: list[list[str]], headline: str) -> list[list[str]]:
    """Keep the headline once: drop copies that directly follow it (scrapers often double it)."""
    key = headline.casefold()
    flat = [(pi, ln) for pi, p in enumerate(paragraphs) for ln in p]
    n = 1
    while n < len(flat) and flat[n][1].casefold() == key:
        n += 1
    out: list[list[str]] = []
    for pi, ln in [flat[0]] + flat[n:]:
        if not out or out[-1][0] != pi:
            out.append((pi, []))
        out[-1][1].append(ln)
    return [lines for _, lines in out]


def markdown_to_text(md: str) -> str:
    """Plain text from markdown: images dropped, links keep their text, heading/emphasis marks go.

    >>> markdown_to_text("# Title\\n\\nSee [NATO](https://nato.int) ![x](a.png) **now**")
    'Title\\n\\nSee NATO  now'
    """
    md = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", md)
    md = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", md)
    md = re.sub(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", r"\1", md)
    md = re.sub(r"(?m)^[ \t]{0,3}>[ \t]?", "", md)
    md = re.sub(r"(?m)^[ \t]{0,3}(?:[-*_][ \t]*){3,}$", "", md)  # horizontal rules
    md = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", md)
    return md


# --- HTML ------------------------------------------------------------------------------

_SKIP = {"script", "style", "nav", "footer", "aside", "form", "noscript", "template", "title", "svg", "iframe", "button", "select"}
_BLOCK = {"p", "div", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "section",
          "article", "header", "main", "blockquote", "pre", "table", "tr", "figure", "figcaption", "address", "title"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "track", "wbr"}


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.meta: dict[str, str] = {}
        self.skip = 0
        self.in_head = False  # <head> is often left unclosed: <body> ends it too
        self.capture: str | None = None  # "title" or "h1" while inside one
        self.captured: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (a.get("property") or a.get("name") or a.get("itemprop") or "").lower()
            if key and a.get("content") and key not in self.meta:
                self.meta[key] = a["content"].strip()
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split() and a.get("href"):
            self.meta.setdefault("canonical", a["href"].strip())
        elif tag == "time" and a.get("datetime"):
            self.meta.setdefault("time", a["datetime"].strip())
        if tag == "head":
            self.in_head = True
        elif tag == "body":
            self.in_head = False
        if tag in ("title", "h1") and tag not in self.captured:
            self.capture, self.captured[tag] = tag, ""
        if tag in _SKIP and tag not in _VOID:
            self.skip += 1
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        if tag in _SKIP and self.skip:
            self.skip -= 1
        if tag == self.capture:
            self.capture = None
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.capture:
            self.captured[self.capture] += data
        if not self.skip and not self.in_head:
            self.parts.append(data)


def html_to_text(html: str) -> Cleaned:
    """Article text and metadata from an HTML page, using only the standard library.

    >>> c = html_to_text('<title>T</title><meta property="og:site_name" content="TASS">'
    ...                  '<p>NATO met &amp; talked.</p><script>x()</script><footer>Contact</footer>')
    >>> (c.text, c.title, c.publisher)
    ('NATO met & talked.', 'T', 'TASS')
    """
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    meta, cap = parser.meta, {k: " ".join(v.split()) for k, v in parser.captured.items()}
    # HTML whitespace is insignificant: only block boundaries make paragraphs.
    blocks = [" ".join(b.split()) for b in "".join(parser.parts).split("\n\n")]
    cleaned = clean_news_text("\n\n".join(b for b in blocks if b))
    date = next((d for d in (normalise_date(meta.get(k)) for k in
                             ("article:published_time", "datepublished", "date", "dc.date", "pubdate", "time")) if d), None)
    url = meta.get("canonical") or meta.get("og:url") or cleaned.url
    stated = meta.get("og:site_name") or meta.get("publisher")
    return Cleaned(
        text=cleaned.text,
        title=meta.get("og:title") or cap.get("h1") or cap.get("title") or cleaned.title,
        date=date or cleaned.date,
        # a publisher the page states, else a dateline's, else the URL's host
        publisher=stated or (cleaned.publisher if cleaned.publisher != _host_publisher(cleaned.url) else None)
        or _host_publisher(url),
        url=url,
    )
