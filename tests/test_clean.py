"""Cleaning pins: what boilerplate goes, what metadata is found, and that words are never changed."""

from __future__ import annotations

import dataclasses

import pytest

from qa.clean import Cleaned, clean_news_text, html_to_text, markdown_to_text, normalise_date


def _words_preserved(raw: str, cleaned: str) -> bool:
    """Every cleaned paragraph appears verbatim (modulo whitespace) in the input."""
    flat = " ".join(raw.split())
    return all(" ".join(p.split()) in flat for p in cleaned.split("\n\n"))


# --- dates -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("2020-02-12", "2020-02-12"),
    ("2020-02-12T10:31:00Z", "2020-02-12"),
    ("2020-02-12T23:59:59+03:00", "2020-02-12"),
    ("2020-02-12 08:00", "2020-02-12"),
    ("2020-2-3", "2020-02-03"),
    ("12 February 2020", "2020-02-12"),
    ("12 Feb 2020", "2020-02-12"),
    ("February 12, 2020", "2020-02-12"),
    ("Feb. 12, 2020", "2020-02-12"),
    ("Wednesday, February 12, 2020", "2020-02-12"),
    ("2020/02/12", "2020-02-12"),
    ("  2020/02/12 ", "2020-02-12"),
])
def test_normalise_date_accepts_common_forms(raw, expected):
    assert normalise_date(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "yesterday", "February 12", "2020-02-30", "31 June 2021", "2020-13-01", "Smarch 3, 2020",
    "12/02/2020", None, 20200212, ["2020-02-12"],
])
def test_normalise_date_returns_none_when_unsure(raw):
    assert normalise_date(raw) is None


# --- plain text: metadata ---------------------------------------------------------------

def test_leading_date_token_becomes_date_and_leaves_text():
    c = clean_news_text(" date 2022-01-14 NATO Secretary-General Jens Stoltenberg said on Thursday that talks matter.")
    assert c.date == "2022-01-14"
    assert c.text == "NATO Secretary-General Jens Stoltenberg said on Thursday that talks matter."
    assert "date" not in c.text and "2022" not in c.text


def test_tass_dateline_gives_publisher_but_no_invented_year():
    raw = "BRUSSELS, February 12. /TASS/. NATO would like to avoid a costly arms race with Russia.\n\nMore text here."
    c = clean_news_text(raw)
    assert c.publisher == "TASS"
    assert c.date is None  # month and day only: no year is invented
    assert c.text.startswith("BRUSSELS, February 12. /TASS/. NATO")  # the dateline stays in the text
    assert c.title == "NATO would like to avoid a costly arms race with Russia"  # title skips the dateline


def test_misspelled_dateline_still_names_publisher():
    c = clean_news_text("BRUSELLS, October 31. /TASS/. NATO stands ready to continue dialogue.")
    assert c.publisher == "TASS" and c.date is None


def test_dateline_with_year_gives_date():
    c = clean_news_text("MOSCOW, March 3, 2021. /TASS/. Talks resumed.")
    assert (c.publisher, c.date) == ("TASS", "2021-03-03")


def test_reuters_dateline():
    c = clean_news_text("BRUSSELS (Reuters) - NATO allies met on Tuesday.")
    assert c.publisher == "Reuters"


def test_source_line_gives_publisher_and_is_removed():
    c = clean_news_text("NATO is ready to talk.\n\nSource: IZ\n")
    assert c.publisher == "IZ"
    assert c.text == "NATO is ready to talk."


def test_source_prose_is_not_a_publisher():
    raw = "NATO met.\nSource: a senior diplomat said that talks would resume in March.\nSource: https://tass.com/a"
    c = clean_news_text(raw)
    assert c.publisher == "tass.com" and c.url == "https://tass.com/a"
    assert "Source: a senior diplomat said" in c.text and "https" not in c.text


def test_url_line_gives_url_and_publisher_host():
    raw = "Headline about NATO\nNATO met in Brussels.\nhttps://www.dailymail.co.uk/wires/reuters/article-1/NATO.html\n.\n"
    c = clean_news_text(raw)
    assert c.url == "https://www.dailymail.co.uk/wires/reuters/article-1/NATO.html"
    assert c.publisher == "dailymail.co.uk"
    assert "http" not in c.text and not c.text.endswith(".\n.")
    assert c.text == "Headline about NATO\nNATO met in Brussels."


def test_explicit_publisher_wins_over_url_host():
    c = clean_news_text("NATO met.\nhttps://example.org/a\nhttps://second.example/b\nSource: IZ")
    assert c.publisher == "IZ"
    assert c.url == "https://example.org/a"  # the first URL


# --- plain text: titles --------------------------------------------------------------------

def test_short_first_line_is_the_headline_and_repeats_collapse():
    headline = "NATO expressed readiness for a dialogue on arms reduction with Russia"
    raw = f"{headline}\n\n{headline}\n\nNATO is ready to discuss arms reduction with Russia. It said so on Sunday."
    c = clean_news_text(raw)
    assert c.title == headline
    assert c.text.count(headline) == 1
    assert c.text == f"{headline}\n\nNATO is ready to discuss arms reduction with Russia. It said so on Sunday."


def test_without_headline_title_is_first_sentence_cut_on_a_word_boundary():
    sentence = ("NATO Secretary-General Jens Stoltenberg on Thursday, January 13, stated that concrete options "
                "for limiting missiles should not be addressed publicly.")
    c = clean_news_text(sentence + " Second sentence.")
    assert len(c.title) <= 100
    assert c.title.endswith("…")
    stem = c.title[:-1]
    assert sentence.startswith(stem) and sentence[len(stem)] == " "  # cut between words


def test_short_first_sentence_is_the_title_without_its_period():
    c = clean_news_text("Mr. Stoltenberg met Dr. Lavrov in Geneva. They talked for hours.")
    assert c.title == "Mr. Stoltenberg met Dr. Lavrov in Geneva"  # abbreviations do not end a sentence


def test_first_line_ending_with_a_period_is_not_a_headline():
    c = clean_news_text("NATO met today.\nIt was long.")
    assert c.title == "NATO met today"


# --- plain text: boilerplate -------------------------------------------------------------------

def test_image_placeholders_data_uris_and_markdown_images_are_removed():
    raw = ("Stoltenberg: NATO will not go beyond its principles\n"
           '<image>data:image/s3,"s3://crabby-images/1a823/1a82327466cb294c6d6bd16a881887c1466d8b90" alt="Stoltenberg: NATO"</image>\n'
           "![photo](https://img.example/x.jpg) He said NATO would not compromise.\n"
           "Inline data:image/png;base64,iVBORw0KGgo= end.\n")
    c = clean_news_text(raw)
    assert "data:image" not in c.text and "<image>" not in c.text and "![" not in c.text
    assert c.text == ("Stoltenberg: NATO will not go beyond its principles\n"
                      "He said NATO would not compromise.\nInline end.")


def test_image_credit_in_parentheses_is_removed():
    c = clean_news_text("NATO leaders met in Brussels.\n\n(Image: AP/Representative)")
    assert c.text == "NATO leaders met in Brussels."


def test_comment_form_and_latest_posts_end_the_article():
    raw = ("NATO is ready.\n\nSource: IZ\n\nLeave a Reply\n\nYour email address will not be published. "
           "Required fields are marked *\n\nLatest Posts\n\nSome other headline about football")
    c = clean_news_text(raw)
    assert c.text == "NATO is ready."
    assert c.publisher == "IZ"


def test_photo_credit_and_its_captions_are_removed():
    raw = ("All news\n\nNATO stands ready to continue dialogue with Russia over INF treaty\n\n"
           "NATO Secretary General Jens Stoltenberg EPA-EFE/KOCA SULEJMANOVIC\n"
           "NATO Secretary General Jens Stoltenberg\n"
           "© EPA-EFE/KOCA SULEJMANOVIC\n\n"
           "BRUSELLS, October 31. /TASS/. NATO stands ready to continue dialogue with Russia.")
    c = clean_news_text(raw)
    assert c.title == "NATO stands ready to continue dialogue with Russia over INF treaty"
    for junk in ("All news", "EPA-EFE", "©", "SULEJMANOVIC"):
        assert junk not in c.text
    assert c.text == ("NATO stands ready to continue dialogue with Russia over INF treaty\n\n"
                      "BRUSELLS, October 31. /TASS/. NATO stands ready to continue dialogue with Russia.")


def test_sentence_mentioning_agency_is_kept():
    raw = "NATO met.\n\nThe photo agency EPA-EFE/KOCA reported the meeting ended late."
    assert "EPA-EFE/KOCA reported" in clean_news_text(raw).text  # prose ends with a period: not a caption


def test_whitespace_normalised_but_words_untouched():
    raw = "  Title  of   the piece\r\n\r\n\r\n\tBody   line one.\r\nBody line\ttwo.  \n\n\n\nLast para.  "
    c = clean_news_text(raw)
    assert c.text == "Title of the piece\n\nBody line one.\nBody line two.\n\nLast para."
    assert _words_preserved(raw, c.text)


def test_only_boilerplate_gives_empty_text():
    c = clean_news_text("Leave a Reply\n.\n(Image: AP)\n")
    assert c.text == "" and c.title == ""


def test_cleaned_is_frozen():
    c = clean_news_text("Some text.")
    assert isinstance(c, Cleaned)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.text = "x"  # type: ignore[misc]


# --- markdown and HTML ---------------------------------------------------------------------------

def test_markdown_keeps_link_text_and_drops_images():
    md = "# NATO and Russia\n\nStoltenberg spoke to [CBC](https://cbc.ca) ![pic](a.png) on **Sunday**.\n\n> Quoted line\n"
    text = markdown_to_text(md)
    assert text.startswith("NATO and Russia\n\n")
    assert "Stoltenberg spoke to CBC  on Sunday." in text
    assert "https://cbc.ca" not in text and "a.png" not in text and "#" not in text
    assert "Quoted line" in text and ">" not in text


HTML = """<!doctype html><html><head>
<title>Page title | Site</title>
<meta property="og:title" content="NATO ready for talks &amp; arms control">
<meta property="article:published_time" content="2020-02-12T09:30:00+03:00">
<meta property="og:site_name" content="TASS">
<link rel="canonical" href="https://tass.com/world/1">
<style>p { color: red }</style>
<script>var secret = "do not index";</script>
</head><body>
<nav><a href="/">Home</a> All news</nav>
<article><h1>NATO ready for talks</h1>
<p>BRUSSELS, February 12. /TASS/. NATO would like to avoid
   an arms race &mdash; Stoltenberg said.</p>
<p>The 9M729 &lt;missile&gt; is a concern.<br>New line here.</p>
<figure><img src="x.jpg"><figcaption>NATO Secretary General Jens Stoltenberg</figcaption></figure>
<div>© EPA-EFE/KOCA SULEJMANOVIC</div>
<aside>Related: other story</aside>
<form>Leave a Reply <textarea></textarea></form>
</article>
<footer>Copyright TASS</footer><noscript>enable js</noscript><template>tmpl</template>
</body></html>"""


def test_html_text_and_metadata():
    c = html_to_text(HTML)
    assert c.title == "NATO ready for talks & arms control"
    assert c.date == "2020-02-12"
    assert c.publisher == "TASS"
    assert c.url == "https://tass.com/world/1"
    assert c.text == ("NATO ready for talks\n\n"
                      "BRUSSELS, February 12. /TASS/. NATO would like to avoid an arms race — Stoltenberg said.\n\n"
                      "The 9M729 <missile> is a concern.\n\nNew line here.")
    for junk in ("secret", "color", "Home", "Related", "Leave a Reply", "Copyright", "enable js", "tmpl",
                 "Page title", "EPA-EFE", "Jens Stoltenberg"):
        assert junk not in c.text


def test_html_fallbacks_time_element_h1_and_og_url():
    html = ('<html><head><meta property="og:url" content="https://x.example/a"><title>T</title>'
            '<body><h1>Big headline</h1><time datetime="2019-10-31">Oct 31</time><p>Body text here.</p></body>')
    c = html_to_text(html)  # <head> never closed: <body> must still be read
    assert c.title == "Big headline"
    assert c.date == "2019-10-31"
    assert c.url == "https://x.example/a"
    assert "Body text here." in c.text
    assert c.publisher == "x.example"


def test_html_meta_date_name_and_unparseable_date():
    assert html_to_text('<meta name="date" content="12 February 2020"><p>x y.</p>').date == "2020-02-12"
    assert html_to_text('<meta name="date" content="last week"><p>x y.</p>').date is None
