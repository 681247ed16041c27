"""Ingestion pins: every format and encoding reads, every bad input is refused with a message
naming the file, one bad file never stops a batch, and the bundled corpus has its metadata."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.ingest import SUPPORTED_SUFFIXES, Ingested, decode_bytes, ingest_paths, read_file
from qa.types import Article

CORPUS = Path(__file__).resolve().parent.parent / "data" / "articles"
BODY = "NATO Secretary General Jens Stoltenberg said the alliance is ready for talks with Russia."


def _write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def _one(path: Path) -> Article:
    articles, warnings = read_file(path)
    assert len(articles) == 1 and warnings == []
    return articles[0]


# --- the bundled corpus ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus() -> dict[str, Article]:
    result = ingest_paths([CORPUS])
    assert [o.status for o in result.outcomes] == ["read"] * 5
    return {a.id[:3]: a for a in result.articles}


def test_corpus_ids_are_file_names(corpus):
    assert sorted(a.id for a in corpus.values()) == sorted(p.name for p in CORPUS.iterdir())
    assert all(a.path and Path(a.path).name == a.id for a in corpus.values())


def test_corpus_000(corpus):
    a = corpus["000"]
    assert a.date == "2022-01-14"
    assert "(Image:" not in a.text and "date 2022" not in a.text
    assert a.text.startswith("NATO Secretary-General Jens Stoltenberg on Thursday, January 13")
    assert "reciprocal, balanced, and verifiable" in a.text


def test_corpus_001(corpus):
    a = corpus["001"]
    assert a.title == "NATO expressed readiness for a dialogue on arms reduction with Russia"
    assert a.publisher == "IZ"
    assert a.date is None  # "Sunday, January 16" has no year
    for junk in ("Leave a Reply", "Latest Posts", "Required fields", "Source: IZ"):
        assert junk not in a.text
    assert a.text.count(a.title) == 1
    assert "“second-class members.”" in a.text  # typographic quotes survive as written


def test_corpus_002(corpus):
    a = corpus["002"]
    assert a.title == "Stoltenberg: NATO will not go beyond its principles"
    assert "data:image" not in a.text and "<image>" not in a.text
    assert a.url is not None and a.url.startswith("https://www.dailymail.co.uk/")
    assert a.publisher == "dailymail.co.uk"
    assert "https://" not in a.text and not a.text.endswith(".\n.")
    assert "Wendy Sherman" in a.text


def test_corpus_003(corpus):
    a = corpus["003"]
    assert a.publisher == "TASS" and a.date == "2020-02-12"
    assert a.text.startswith("BRUSSELS, February 12. /TASS/.")
    assert a.text.count("9M729") == 2


def test_corpus_004(corpus):
    a = corpus["004"]
    assert a.title == "NATO stands ready to continue dialogue with Russia over INF treaty"
    assert a.publisher == "TASS"
    assert a.date is None  # "October 31" and no year anywhere
    for junk in ("All news", "EPA-EFE", "©", "SULEJMANOVIC"):
        assert junk not in a.text
    assert "9M729 or SSC-8" in a.text
    assert "BRUSELLS, October 31. /TASS/." in a.text


# --- formats ------------------------------------------------------------------------------------

def test_txt(tmp_path):
    a = _one(_write(tmp_path / "story.txt", f"NATO ready for talks\n\n{BODY}\n"))
    assert (a.id, a.title, a.text) == ("story.txt", "NATO ready for talks", f"NATO ready for talks\n\n{BODY}")
    assert a.path == str(tmp_path / "story.txt")


@pytest.mark.parametrize("suffix", [".md", ".markdown"])
def test_markdown(tmp_path, suffix):
    md = f"# NATO ready for talks\n\n![photo](pic.jpg)\n\nAs [TASS](https://tass.com) reports, {BODY}\n"
    a = _one(_write(tmp_path / f"story{suffix}", md))
    assert a.title == "NATO ready for talks"
    assert a.text == f"NATO ready for talks\n\nAs TASS reports, {BODY}"


@pytest.mark.parametrize("suffix", [".html", ".htm"])
def test_html(tmp_path, suffix):
    html = ('<html><head><title>NATO talks</title><meta name="date" content="2021-03-04"></head>'
            f'<body><nav>Menu</nav><p>{BODY}</p><script>x=1</script></body></html>')
    a = _one(_write(tmp_path / f"page{suffix}", html))
    assert (a.title, a.date, a.text) == ("NATO talks", "2021-03-04", BODY)


def test_json_list(tmp_path):
    records = [
        {"id": 7, "title": "Given title", "text": f"date 2020-01-01 {BODY}", "date": "12 February 2020",
         "url": "https://tass.com/x", "source": "TASS"},
        {"body": "BRUSSELS, February 12. /TASS/. NATO met again in Brussels.", "published": "2020/02/13"},
        {"content": "Third article about the INF treaty.", "publisher": "IZ"},
    ]
    articles, warnings = read_file(_write(tmp_path / "batch.json", json.dumps(records)))
    assert warnings == []
    a, b, c = articles
    assert (a.id, a.title, a.date, a.url, a.publisher, a.text) == (
        "7", "Given title", "2020-02-12", "https://tass.com/x", "TASS", BODY)  # record fields win
    assert (b.id, b.date, b.publisher) == ("batch.json#1", "2020-02-13", "TASS")  # dateline publisher fills in
    assert (c.id, c.publisher, c.title) == ("batch.json#2", "IZ", "Third article about the INF treaty")


def test_json_single_record_and_articles_wrapper(tmp_path):
    a = _one(_write(tmp_path / "one.json", json.dumps({"text": BODY, "title": "T"})))
    assert (a.id, a.title, a.text) == ("one.json#0", "T", BODY)
    wrapped = json.dumps({"articles": [{"text": BODY}, {"text": "Another text."}]})
    articles, _ = read_file(_write(tmp_path / "wrapped.json", wrapped))
    assert [x.id for x in articles] == ["wrapped.json#0", "wrapped.json#1"]


def test_jsonl(tmp_path):
    lines = [json.dumps({"id": "a", "text": BODY}), "", json.dumps({"text": "Second article text."})]
    articles, warnings = read_file(_write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n"))
    assert warnings == []
    assert [a.id for a in articles] == ["a", "feed.jsonl#1"]


def test_jsonl_with_bad_lines_reads_the_good_ones(tmp_path):
    lines = [json.dumps({"text": f"Article number {i} about NATO."}) for i in range(9)]
    lines[6] = '{"text": "broken" "no comma"}'  # line 7
    lines[8] = json.dumps({"title": "no body here"})  # line 9
    lines[3] = json.dumps({"text": "Fourth article.", "date": "sometime"})  # unparseable date is not an error
    articles, warnings = read_file(_write(tmp_path / "feed.jsonl", "\n".join(lines)))
    assert len(articles) == 7
    assert [a.id for a in articles] == [f"feed.jsonl#{i}" for i in (0, 1, 2, 3, 4, 5, 7)]  # stable indexes
    assert articles[3].date is None
    assert any(w.startswith("line 7: not valid JSON (Expecting ','") for w in warnings), warnings
    assert "line 9: no text/body/content field" in warnings
    assert any(w.startswith("line 4: date 'sometime' not understood") for w in warnings)


def test_jsonl_without_text_field_is_rejected(tmp_path):
    path = _write(tmp_path / "bad.jsonl", '{"title": "a"}\n{"headline": "b"}\n')
    with pytest.raises(QAError, match=r"bad\.jsonl has no usable record.*line 1: no text/body/content field"):
        read_file(path)


@pytest.mark.parametrize("content, match", [
    ('{"text": "a",}', r"broken\.json is not valid JSON \(.*line 1, column"),
    ('"just a string"', r"broken\.json holds a JSON str"),
    ('[1, 2]', r"broken\.json has no usable record \(record 0: not a JSON object"),
    ('[]', r"broken\.json has no usable record \(no records\)"),
])
def test_malformed_json(tmp_path, content, match):
    with pytest.raises(QAError, match=match):
        read_file(_write(tmp_path / "broken.json", content))


# --- encodings -------------------------------------------------------------------------------------

TEXT = "Café talks in Zürich – “quoted” and ‘single’ NATO statement."


@pytest.mark.parametrize("encoded", [
    pytest.param(TEXT.encode("utf-8"), id="utf-8"),
    pytest.param(b"\xef\xbb\xbf" + TEXT.encode("utf-8"), id="utf-8-bom"),
    pytest.param(b"\xff\xfe" + TEXT.encode("utf-16-le"), id="utf-16-le-bom"),
    pytest.param(b"\xfe\xff" + TEXT.encode("utf-16-be"), id="utf-16-be-bom"),
    pytest.param(TEXT.encode("utf-16-le"), id="utf-16-le-no-bom"),
    pytest.param(TEXT.encode("utf-16-be"), id="utf-16-be-no-bom"),
    pytest.param(TEXT.encode("utf-32"), id="utf-32-bom"),
    pytest.param(TEXT.encode("cp1252"), id="cp1252"),
])
def test_encodings_round_trip(tmp_path, encoded):
    assert decode_bytes(encoded, "x.txt") == TEXT
    assert _one(_write(tmp_path / "enc.txt", encoded)).text == TEXT


def test_cp1252_smart_punctuation():
    assert decode_bytes("café – “quoted”".encode("cp1252"), "x.txt") == "café – “quoted”"


def test_latin1(tmp_path):
    text = "São Paulo, Ålesund and café: NATO ¿talks?"
    assert decode_bytes(text.encode("latin-1"), "x.txt") == text
    # \x81 is undefined in cp1252, so only latin-1 decodes this
    assert decode_bytes(b"caf\xe9 \x81 ok", "x.txt") == "caf\u00e9 \x81 ok"
    assert _one(_write(tmp_path / "l1.txt", text.encode("latin-1"))).text == text


def test_json_in_utf16(tmp_path):
    path = _write(tmp_path / "u.jsonl", b"\xff\xfe" + json.dumps({"text": TEXT}, ensure_ascii=False).encode("utf-16-le"))
    articles, _ = read_file(path)
    assert articles[0].text == TEXT


# --- bad inputs ---------------------------------------------------------------------------------------

def test_empty_and_whitespace_only(tmp_path):
    with pytest.raises(QAError, match=r"empty\.txt is empty"):
        read_file(_write(tmp_path / "empty.txt", b""))
    with pytest.raises(QAError, match=r"blank\.md contains only whitespace"):
        read_file(_write(tmp_path / "blank.md", " \n\t\r\n  \n"))


def test_only_boilerplate_is_refused(tmp_path):
    with pytest.raises(QAError, match=r"junk\.txt has no article text left"):
        read_file(_write(tmp_path / "junk.txt", "Leave a Reply\n\n.\n(Image: AP)\n"))


def test_binary_renamed_txt(tmp_path):
    data = bytes(range(256)) * 8
    with pytest.raises(QAError, match=r"^blob\.txt looks like a binary file \(contains NUL bytes\); only text"):
        read_file(_write(tmp_path / "blob.txt", data))
    no_nul = bytes(b for b in os.urandom(4000) if b) + b"\x01\x02\x03" * 200
    with pytest.raises(QAError, match=r"blob2\.txt looks like a binary file \(\d+ control characters"):
        read_file(_write(tmp_path / "blob2.txt", no_nul))


@pytest.mark.parametrize("magic, kind", [
    (b"%PDF-1.7\n", "PDF document"), (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff\xe0", "JPEG image"),
    (b"\x1f\x8b\x08", "gzip archive"), (b"\x7fELF\x02", "ELF executable"),
])
def test_magic_numbers(magic, kind):
    with pytest.raises(QAError, match=rf"x\.txt looks like a binary file \({kind}\)"):
        decode_bytes(magic + b"rest of a file that is otherwise text", "x.txt")


def test_zip_renamed_txt_and_real_zip(tmp_path):
    real = tmp_path / "articles.zip"
    with zipfile.ZipFile(real, "w") as z:
        z.writestr("a.txt", BODY)
    renamed = _write(tmp_path / "archive.txt", real.read_bytes())
    with pytest.raises(QAError) as e:
        read_file(renamed)
    assert str(e.value) == ("archive.txt looks like a binary file (zip archive); only text articles can be "
                            "indexed: .txt, .md, .html, .json, .jsonl")
    with pytest.raises(QAError, match=r"articles\.zip: \.zip is not supported; supported: \.txt, \.md"):
        read_file(real)


def test_unsupported_extension(tmp_path):
    with pytest.raises(QAError, match=r"report\.pdf: \.pdf is not supported; supported: " + ", ".join(
            s.replace(".", r"\.") for s in SUPPORTED_SUFFIXES)):
        read_file(_write(tmp_path / "report.pdf", "plain text really"))
    with pytest.raises(QAError, match=r"README: a file without an extension is not supported"):
        read_file(_write(tmp_path / "README", "text"))


def test_suffix_is_case_insensitive(tmp_path):
    assert _one(_write(tmp_path / "LOUD.TXT", BODY)).id == "LOUD.TXT"


def test_oversize(tmp_path):
    big = _write(tmp_path / "x.txt", ("NATO said. " * 1_200_000)[: int(12.3 * 1024 * 1024)])
    with pytest.raises(QAError, match=r"^x\.txt is 12\.3 MB; the limit is 10 MB"):
        read_file(big, max_bytes=10 * 1024 * 1024)
    small = _write(tmp_path / "s.txt", BODY)
    with pytest.raises(QAError, match=r"s\.txt is \d+ bytes; the limit is 20 bytes"):
        read_file(small, max_bytes=20)
    assert _one(small).text == BODY  # no limit by default


def test_missing_and_folder(tmp_path):
    with pytest.raises(QAError, match=r"nothere\.txt does not exist"):
        read_file(tmp_path / "nothere.txt")
    with pytest.raises(QAError, match=r"is a folder"):
        read_file(tmp_path)


# --- batches ---------------------------------------------------------------------------------------------

def test_duplicates_are_indexed_once(tmp_path):
    _write(tmp_path / "a.txt", BODY)
    _write(tmp_path / "b.txt", f"\n  {BODY}  \n\nLeave a Reply\n")  # same text once cleaned
    result = ingest_paths([tmp_path])
    assert isinstance(result, Ingested)
    assert [a.id for a in result.articles] == ["a.txt"]
    dup = result.outcomes[1]
    assert (dup.path, dup.status, dup.article_ids) == (str(tmp_path / "b.txt"), "duplicate", ())
    assert "same text as a.txt" in dup.message


def test_same_id_different_text_is_rejected(tmp_path):
    _write(tmp_path / "one" / "story.txt", BODY)
    _write(tmp_path / "two" / "story.txt", "A completely different article.")
    result = ingest_paths([tmp_path])
    assert [a.text for a in result.articles] == [BODY]
    second = result.outcomes[1]
    assert second.status == "rejected" and not second.ok
    assert "article id 'story.txt' is already used by a different article" in second.message


def test_one_bad_file_does_not_stop_the_batch(tmp_path):
    good1 = _write(tmp_path / "good1.txt", BODY)
    bad = _write(tmp_path / "bad.txt", b"PK\x03\x04 zip bytes")
    good2 = _write(tmp_path / "good2.json", json.dumps([{"text": "Second good article."}]))
    missing = tmp_path / "missing.txt"
    result = ingest_paths([good1, bad, missing, str(good2)])
    assert [a.id for a in result.articles] == ["good1.txt", "good2.json#0"]
    assert [(Path(o.path).name, o.status) for o in result.outcomes] == [
        ("good1.txt", "read"), ("bad.txt", "rejected"), ("missing.txt", "rejected"), ("good2.json", "read")]
    assert "zip archive" in result.outcomes[1].message
    assert result.rejected == (result.outcomes[1], result.outcomes[2])


def test_folders_walk_sorted_recursively_and_report_skips(tmp_path):
    _write(tmp_path / "b.txt", "Article B text.")
    _write(tmp_path / "a" / "z.md", "Article Z text.")
    _write(tmp_path / "a" / "c.html", "<p>Article C text.</p>")
    _write(tmp_path / ".hidden.txt", "Hidden text.")
    _write(tmp_path / ".git" / "config.txt", "Git internals.")
    _write(tmp_path / "notes.docx", "not really docx")
    explicit_bad = _write(tmp_path / "elsewhere" / "slides.pptx", "x")
    result = ingest_paths([tmp_path / "a", tmp_path / "b.txt", tmp_path / ".git", explicit_bad, tmp_path])
    names = [(Path(o.path).name, o.status) for o in result.outcomes]
    assert names[:4] == [("c.html", "read"), ("z.md", "read"), ("b.txt", "read"), ("config.txt", "read")]
    assert names[4] == ("slides.pptx", "rejected")
    # the whole folder again: hidden entries, unsupported files and re-read files are all reported
    assert names[5:] == [
        (".git", "rejected"), (".hidden.txt", "rejected"), ("c.html", "duplicate"), ("z.md", "duplicate"),
        ("b.txt", "duplicate"), ("slides.pptx", "rejected"), ("notes.docx", "rejected")]
    hidden = result.outcomes[6]
    assert "hidden file" in hidden.message and "leading dot" in hidden.message
    assert "notes.docx: .docx is not supported" in result.outcomes[-1].message
    assert "already read" in result.outcomes[7].message
    assert [a.id for a in result.articles] == ["c.html", "z.md", "b.txt", "config.txt"]


def test_partly_bad_jsonl_is_read_with_a_message(tmp_path):
    _write(tmp_path / "feed.jsonl", json.dumps({"text": "Good line."}) + "\n{oops\n")
    (outcome,) = ingest_paths([tmp_path]).outcomes
    assert outcome.status == "read" and outcome.article_ids == ("feed.jsonl#0",)
    assert outcome.message.startswith("line 2: not valid JSON")


def test_a_single_path_string_is_one_path(tmp_path):
    _write(tmp_path / "a.txt", BODY)
    assert [a.id for a in ingest_paths(str(tmp_path / "a.txt")).articles] == ["a.txt"]
