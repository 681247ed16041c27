"""What the page shows, checked without a browser: escaping, highlighting, markers."""

from __future__ import annotations

import re

import pytest

from qa import render

HOSTILE = '<script>window.__pwned=1;alert(1)</script> <img src=x onerror="alert(2)"> ![x](http://127.0.0.1:9/x.png)'
ARTICLE = (
    "NATO ministers met in Brussels.\n"
    "Russia's 9M729 missile violates the INF treaty, NATO said. Talks went on.\n"
    "A third paragraph."
)
QUOTE = "Russia's 9M729 missile violates the INF treaty, NATO said."


def cite(n=1, **kw):
    start = ARTICLE.index(QUOTE)
    c = dict(n=n, source="004_x.txt", title="INF <b>talks</b>", date="2019-10-31", publisher="TASS",
             url="https://tass.com/a?b=1&c=2", quote=QUOTE, start=start, end=start + len(QUOTE), score=0.5)
    c.update(kw)
    return c


def answer(**kw):
    a = dict(question="Which missile violates the INF treaty?", search_query="Which missile violates the INF treaty?",
             answer=f"{QUOTE} [1]", refused=False, mode="extractive", citations=[cite()], closest=[],
             verification={}, timings_ms={})
    a.update(kw)
    return a


def test_md_escape_neutralises_images_html_and_links():
    out = render.md_escape(HOSTILE)
    assert "<" not in out and ">" not in out  # no raw tag survives
    assert "![" not in out and "](" not in out  # no markdown image or link syntax survives
    assert "http://" not in out  # no bare-URL autolink either
    assert "&lt;script&gt;" in out


def test_chat_text_links_only_cited_markers():
    out = render.chat_text("Claim [1]. Other [2]. Array[0] ![i](http://e/x.png)", turn=3, numbers=[1])
    assert "[\\[1\\]](#qa-cite-3-1)" in out
    assert "#qa-cite-3-2" not in out and "\\[2\\]" in out  # [2] is not a citation of this answer
    assert "![" not in out


def test_safe_url_accepts_only_http_and_https():
    assert render.safe_url("https://tass.com/x") == "https://tass.com/x"
    for bad in ["javascript:alert(1)", "data:text/html,<b>", "/etc/passwd", "https://a.com/\"onmouseover=x",
                "http:///nohost", "JaVaScRiPt:alert(1)", "", None]:
        assert render.safe_url(bad) is None, bad
    a = render.link("https://tass.com/a?b=1&c=2")
    assert 'rel="noopener noreferrer nofollow"' in a and "&amp;c=2" in a
    assert "<a" not in render.link("javascript:alert(1)")


def test_sources_escape_everything_and_mark_the_quote_in_its_paragraph():
    c = cite(title=HOSTILE, publisher='<img src=x onerror="alert(3)">', url="javascript:alert(4)")
    html = render.sources_html(answer(citations=[c]), turn=0, texts={"004_x.txt": ARTICLE})
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert 'href="javascript' not in html
    assert f"<mark>{render.esc(QUOTE)}</mark>" in html
    assert "Talks went on." in html  # the rest of the quote's paragraph ...
    assert "A third paragraph" not in html  # ... but not other paragraphs
    assert "data-qa-cite='0-1'" in html


def test_source_card_finds_a_quote_when_offsets_are_stale():
    html = render.sources_html(answer(citations=[cite(start=0, end=5)]), 0, {"004_x.txt": ARTICLE})
    assert f"<mark>{render.esc(QUOTE)}</mark>" in html


def test_viewer_shows_whole_article_with_passage_highlighted():
    html = render.viewer_html(cite(), ARTICLE.replace("ministers", "<script>alert(1)</script>"))
    assert html.count("<p>") == 3
    assert f"<mark>{render.esc(QUOTE)}</mark>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "no longer in the index" in render.viewer_html(cite(), None)


def test_answer_markdown_rewritten_followup_and_refusal():
    md = render.answer_markdown(answer(question="Who said it?", search_query="Who said the 9M729 violates INF?"), 2)
    assert md.startswith("*Searched for: Who said the 9M729 violates INF?*")
    assert "(#qa-cite-2-1)" in md
    same = render.answer_markdown(answer(), 0)
    assert "Searched for" not in same
    refused = answer(refused=True, answer="No passage answers this.", citations=[], closest=[cite()])
    md = render.answer_markdown(refused, 1)
    assert "Not answered" in md and md.startswith(">")
    panel = render.sources_html(refused, 1, {"004_x.txt": ARTICLE})
    assert "qa-refusal" in panel and "Closest passages" in panel and "<mark>" in panel


def test_corpus_and_outcomes_tables_escape():
    arts = [dict(id="a<1>.txt", title=HOSTILE, date="2020-01-01", publisher="P&Q", url="ftp://x", chunks=3),
            dict(id="b.txt", title="B", date=None, publisher=None, url=None, chunks=2)]
    html = render.corpus_html(arts)
    assert "2 articles, 5 chunks" in html
    assert "<script" not in html and "<img" not in html and "a&lt;1&gt;.txt" in html and "P&amp;Q" in html
    assert "<a " not in html  # ftp:// is shown as text, not a link
    out = render.outcomes_html([{"file": "<x>.bin", "status": "rejected", "message": "binary", "article_ids": []}])
    assert "&lt;x&gt;.bin" in out and "qa-status-rejected" in out


@pytest.mark.parametrize("text", [HOSTILE, "plain", "a [1] b", "](javascript:alert(1))"])
def test_no_markup_survives_partial_messages(text):
    out = render.partial_markdown(text, "Searched for: " + text, turn=0)
    assert not re.search(r"<(?!/?p>)[a-z]", out)
    assert "](javascript" not in out


def test_short_answer_is_bold_inside_its_sentence_not_in_the_lead():
    text = f"TASS, 31 October 2019: {QUOTE} [1]"
    short = {"text": "9M729", "kind": "alias", "citation": 1, "source": "004_x.txt", "start": 0, "end": 5}
    md = render.answer_markdown(answer(answer=text, short_answer=short), 0)
    assert "**9M729**" in md and md.count("**") == 2
    # a date short answer that also appears in the publisher lead is bolded in the sentence
    dated = "Talks began on 31 October 2019 in Geneva."
    text = f"TASS, 31 October 2019: {dated} [1]"
    short = {"text": "31 October 2019", "kind": "date", "citation": 1, "source": "004_x.txt", "start": 0, "end": 15}
    md = render.answer_markdown(answer(answer=text, citations=[cite(quote=dated)], short_answer=short), 0)
    assert md.startswith("TASS, 31 October 2019\\: Talks began on **31 October 2019**")
