"""Everything the web page shows, as escaped HTML or inert markdown, from plain values.

Article text, titles, publishers and URLs come from uploaded files, so they are hostile
until escaped. Two renderers meet them: the chatbot (markdown, then sanitised HTML) and
the panels (`gr.HTML`, raw innerHTML, where an `onerror=` attribute would run). So:

- panel HTML escapes every value with `html.escape`; a URL becomes a link only when its
  scheme is http/https, always with rel="noopener noreferrer nofollow";
- chat markdown escapes every markdown and HTML metacharacter, so `![x](http://..)` and
  `<img src=x>` show as the text they are and never load anything; the only markup added
  back is our own: `[n]` citation markers as `#qa-cite-<turn>-<n>` links the page script
  turns into "open this source" clicks.

Pure functions over `Answer.to_dict()`-shaped dicts, so tests need no browser.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable
from urllib.parse import urlsplit

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can
# start or end markup (links, images, emphasis, code, tables, headings, lists, math).
_MD_SPECIAL = set("\\`*_{}[]()#+-.!|~$:")
_HTML_SPECIAL = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")  # an escaped `[n]`


def esc(value: Any) -> str:
    """HTML-escape any value for text or a quoted attribute; None becomes ''."""
    return "" if value is None else html.escape(str(value), quote=True)


def md_escape(text: str) -> str:
    """Markdown text that renders as exactly `text`, with no markup, links or images.

    >>> md_escape("![x](http://a/b.png) <img src=x>")
    '\\\\!\\\\[x\\\\]\\\\(http\\\\://a/b\\\\.png\\\\) &lt;img src=x&gt;'
    """
    out = []
    for ch in text:
        if ch in _HTML_SPECIAL:
            out.append(_HTML_SPECIAL[ch])
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def safe_url(url: str | None) -> str | None:
    """`url` if it is a plain http(s) URL, else None (javascript:, data:, relative ...)."""
    if not url:
        return None
    url = url.strip()
    if any(ord(c) < 33 or c in "\"'<>`\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def link(url: str | None) -> str:
    """An escaped external link for an http(s) URL; anything else as escaped text."""
    ok = safe_url(url)
    if ok is None:
        return esc(url)
    return (
        f'<a href="{esc(ok)}" target="_blank" rel="noopener noreferrer nofollow">{esc(ok)}</a>'
    )


# ---- chat ----------------------------------------------------------------------------


def chat_text(text: str, turn: int, numbers: Iterable[int] = (), bold: str | None = None, after: str = "") -> str:
    """Escaped answer text whose `[n]` markers (n in `numbers`) link to source n of `turn`;
    the first occurrence of `bold` (the short answer) from where `after` (its sentence) starts
    is shown in bold, so a date in the "TASS, 12 February 2020:" lead is not taken for it.

    >>> chat_text("NATO met in Geneva [1].", 0, [1], bold="Geneva")
    'NATO met in **Geneva** [\\\\[1\\\\]](#qa-cite-0-1)\\\\.'
    """
    wanted = set(numbers)

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in wanted:
            return m.group(0)
        return f"[\\[{n}\\]](#qa-cite-{turn}-{n})"

    at = text.find(bold, max(0, text.find(after[:40]))) if bold and bold.strip() else -1
    if at < 0:
        return _MARKER.sub(repl, md_escape(text))
    head, mid, tail = text[:at], text[at:at + len(bold)], text[at + len(bold):]
    return "".join((_MARKER.sub(repl, md_escape(head)), "**", md_escape(mid.strip()), "**", _MARKER.sub(repl, md_escape(tail))))


def searched_for(answer: dict[str, Any]) -> str | None:
    """The rewritten search query when it differs from the question, else None."""
    q = (answer.get("search_query") or "").strip()
    if q and q.casefold() != (answer.get("question") or "").strip().casefold():
        return q
    return None


def filter_text(applied: dict[str, Any]) -> str:
    """The filters an answer applied, as its chip reads: "TASS · dated to 2021-12-31 · 2 undated articles excluded".

    >>> filter_text({"text": "dated to 2021-12-31", "undated_excluded": 1})
    'dated to 2021-12-31 · 1 undated article excluded'
    """
    n = applied.get("undated_excluded") or 0
    note = f" · {n} undated article{'s' if n != 1 else ''} excluded" if n else ""
    return f"{applied.get('text', '')}{note}"


def fallback_note(outcome: str) -> str:
    """The one line that says a generated answer was not used, and why (from its verification
    `outcome`): shown while the answer streams and in the finished message.

    >>> fallback_note("no generated sentence was supported by its passages; fell back to extractive")
    'The generated answer was not used (no generated sentence was supported by its passages); quoting the articles instead.'
    """
    return f"The generated answer was not used ({outcome.split('; fell back')[0]}); quoting the articles instead."


def answer_markdown(answer: dict[str, Any], turn: int) -> str:
    """The assistant's chat message for a finished answer (`Answer.to_dict()`)."""
    parts = []
    rewritten = searched_for(answer)
    if rewritten:
        parts.append(f"*Searched for: {md_escape(rewritten)}*")
    period = answer.get("date_filter")
    if period:
        how = "about" if period.get("applied") == "mentions" else "dated"
        parts.append(f"*Searched articles {how} {md_escape(period.get('describe', ''))} (“{md_escape(period.get('text', ''))}”)*")
    applied = answer.get("filters")
    if applied:
        parts.append(f"*Searched articles: {md_escape(filter_text(applied))}*")
    outcome = (answer.get("verification") or {}).get("outcome") or ""
    if "fell back" in outcome:  # generative mode, but the generated text was not used: say so in one line
        parts.append(f"*{md_escape(fallback_note(outcome))}*")
    if answer.get("refused"):
        body = md_escape(answer.get("answer") or "I could not find this in the articles.")
        closest = answer.get("closest") or []
        note = " The closest passages are shown under Sources." if closest and "closest" not in body else ""
        parts.append(f"> **Not answered from the articles.** {body}{md_escape(note)}")
    else:
        numbers = [c["n"] for c in answer.get("citations") or []]
        short = answer.get("short_answer") or {}
        quote = next((c["quote"] for c in answer.get("citations") or [] if c["n"] == short.get("citation")), "")
        body = chat_text(answer.get("answer") or "", turn, numbers, bold=short.get("text"), after=quote)
        if answer.get("conflicts"):  # the visible marker: the passages disagree
            body = "**Reports differ:**" + body.removeprefix("Reports differ\\:")
        parts.append(body)
    return "\n\n".join(parts)


def partial_markdown(text: str, status: str | None, turn: int, numbers: Iterable[int] = ()) -> str:
    """The chat message while an answer streams in."""
    parts = []
    if status:
        parts.append(f"*{md_escape(status)}*")
    if text:
        parts.append(chat_text(text, turn, numbers or range(1, 100)))
    return "\n\n".join(parts) or "…"


def error_markdown(message: str) -> str:
    return f"> **Error:** {md_escape(message)}"


# ---- passages ------------------------------------------------------------------------


def locate(text: str, quote: str, start: int, end: int) -> tuple[int, int] | None:
    """Offsets of the quote in `text`: the given ones when they match, else a search."""
    if 0 <= start < end <= len(text) and text[start:end] == quote:
        return start, end
    if quote:
        i = text.find(quote)
        if i >= 0:
            return i, i + len(quote)
    return None


def paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The lines (paragraphs) that contain `text[start:end]`."""
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return a, len(text) if b < 0 else b


def highlighted(text: str, span: tuple[int, int] | None) -> str:
    """Escaped `text` as paragraphs, with `span` wrapped in <mark>."""
    if span is None:
        body = esc(text)
    else:
        a, b = span
        body = f"{esc(text[:a])}<mark>{esc(text[a:b])}</mark>{esc(text[b:])}"
    paras = [p for p in body.split("\n") if p.strip()]
    return "".join(f"<p>{p}</p>" for p in paras)


def _meta_line(c: dict[str, Any]) -> str:
    bits = [f"<span class='qa-pub'>{esc(c.get('publisher') or 'unknown publisher')}</span>"]
    bits.append(f"<span class='qa-date'>{esc(c.get('date') or 'undated')}</span>")
    bits.append(f"<code class='qa-id'>{esc(c.get('source'))}</code>")
    if c.get("url"):
        bits.append(f"<span class='qa-url'>{link(c.get('url'))}</span>")
    also = c.get("also_in") or []
    if also:  # the same story from other outlets (wire copies)
        runs = ", ".join(esc(" ".join(x for x in (o.get("publisher") or o.get("source"), o.get("date")) if x)) for o in also)
        bits.append(f"<span class='qa-also'>also in {runs}</span>")
    return " · ".join(bits)


def source_card(c: dict[str, Any], turn: int, text: str | None) -> str:
    """One cited passage: [n], title, metadata, the quote highlighted in its paragraph."""
    quote = c.get("quote") or ""
    if text:
        span = locate(text, quote, int(c.get("start", 0)), int(c.get("end", 0)))
        if span:
            pa, pb = paragraph_bounds(text, *span)
            body = highlighted(text[pa:pb], (span[0] - pa, span[1] - pa))
        else:
            body = f"<p><mark>{esc(quote)}</mark></p>"
    else:
        body = f"<p><mark>{esc(quote)}</mark></p>"
    key = f"{turn}-{int(c['n'])}"
    return (
        f"<div class='qa-source' data-qa-cite='{esc(key)}' id='qa-source-{esc(key)}'>"
        f"<div class='qa-source-head'><button type='button' class='qa-n' data-qa-cite='{esc(key)}' "
        f"title='Show the whole article'>[{int(c['n'])}]</button> "
        f"<span class='qa-title'>{esc(c.get('title') or c.get('source'))}</span></div>"
        f"<div class='qa-meta'>{_meta_line(c)}</div>"
        f"<div class='qa-passage'>{body}</div>"
        f"<button type='button' class='qa-open' data-qa-cite='{esc(key)}'>Show whole article</button>"
        "</div>"
    )


def sources_html(answer: dict[str, Any] | None, turn: int, texts: dict[str, str]) -> str:
    """The sources panel for one answer; on refusal, its closest passages, marked as such."""
    if not answer:
        return "<div class='qa-empty'>Sources of the latest answer appear here.</div>"
    if answer.get("refused"):
        items = answer.get("closest") or []
        head = (
            "<div class='qa-refusal'><strong>Not answered.</strong> No passage supports an answer. "
            + ("Closest passages, for you to check:" if items else "Nothing close was found.")
            + "</div>"
        )
    else:
        items = answer.get("citations") or []
        head = f"<div class='qa-sources-head'>Sources ({len(items)})</div>" if items else (
            "<div class='qa-empty'>This answer cites no sources.</div>"
        )
    cards = "".join(source_card(c, turn, texts.get(c.get("source") or "")) for c in items)
    return f"<div class='qa-sources'>{head}{cards}</div>"


def viewer_html(c: dict[str, Any] | None, text: str | None) -> str:
    """The whole article of citation `c`, with its quoted passage highlighted."""
    if not c:
        return "<div class='qa-empty'>Click a [n] marker or a source to read the whole article.</div>"
    if text is None:
        return (
            f"<div class='qa-viewer'><div class='qa-refusal'>Article {esc(c.get('source'))} is no "
            "longer in the index.</div></div>"
        )
    span = locate(text, c.get("quote") or "", int(c.get("start", 0)), int(c.get("end", 0)))
    return (
        f"<div class='qa-viewer'><h3 class='qa-title'>[{int(c['n'])}] {esc(c.get('title') or c.get('source'))}</h3>"
        f"<div class='qa-meta'>{_meta_line(c)}</div>"
        f"<div class='qa-article'>{highlighted(text, span)}</div></div>"
    )


# ---- corpus and uploads --------------------------------------------------------------


def corpus_html(articles: list[dict[str, Any]]) -> str:
    """The indexed articles with their metadata and chunk counts."""
    if not articles:
        return "<div class='qa-empty'>The index is empty: upload some articles.</div>"
    rows = "".join(
        "<tr>"
        f"<td><code>{esc(a.get('id'))}</code></td><td>{esc(a.get('title'))}</td>"
        f"<td>{esc(a.get('date') or '')}</td><td>{esc(a.get('publisher') or '')}</td>"
        f"<td>{link(a.get('url')) if a.get('url') else ''}</td><td>{esc(a.get('chunks'))}</td>"
        f"<td>{esc(', '.join(a.get('same_story') or []))}</td>"
        "</tr>"
        for a in articles
    )
    total = sum(int(a.get("chunks") or 0) for a in articles)
    return (
        f"<div class='qa-corpus'><div>{len(articles)} articles, {total} chunks</div>"
        "<table><thead><tr><th>id</th><th>title</th><th>date</th><th>publisher</th><th>url</th>"
        f"<th>chunks</th><th>same story as</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def outcomes_html(outcomes: list[dict[str, Any]]) -> str:
    """The per-file upload outcomes (`FileOutcome.to_dict()`), rejections highlighted."""
    if not outcomes:
        return ""
    rows = "".join(
        f"<tr class='qa-status-{esc(o.get('status'))}'><td><code>{esc(o.get('file') or o.get('path'))}</code></td>"
        f"<td>{esc(o.get('status'))}</td><td>{esc(o.get('message'))}</td>"
        f"<td>{esc(', '.join(o.get('article_ids') or []))}</td></tr>"
        for o in outcomes
    )
    return (
        "<table class='qa-outcomes'><thead><tr><th>file</th><th>status</th><th>message</th>"
        f"<th>articles</th></tr></thead><tbody>{rows}</tbody></table>"
    )
