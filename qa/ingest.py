"""Read article files from disk into cleaned `Article`s, and say plainly what was refused.

This is the boundary where user files enter: every problem with a file becomes a QAError
(or a per-file "rejected" outcome) whose message names the file and says what to do.

Decisions:
- Encoding is detected, never assumed: UTF-8 (with or without BOM), UTF-16/32 by BOM,
  BOM-less UTF-16 by its NUL pattern, then cp1252 (what Windows editors save), then
  latin-1, which always decodes. Binary files are refused before decoding, so a zip
  renamed .txt never turns into an "article" of mojibake.
- One file holds one article (.txt, .md, .html) or many records (.json, .jsonl). A bad
  JSONL line is a warning, not a rejection: the good lines are still read.
- Ids: the file name for one-article files; a record's `id`, else `<file name>#<index>`
  with the index counting every non-blank record (bad ones too), so fixing one bad line
  does not renumber the others.
- Identical cleaned text is kept once: the later copy is reported as a duplicate of the
  first. Two different texts under one id cannot both be kept: the later is rejected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from qa.clean import Cleaned, clean_news_text, html_to_text, markdown_to_text, normalise_date
from qa.errors import QAError
from qa.types import Article, FileOutcome

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
_TEXT_KINDS = ".txt, .md, .html, .json, .jsonl"
_MAGIC = (
    (b"PK\x03\x04", "zip archive"), (b"PK\x05\x06", "zip archive"), (b"%PDF", "PDF document"),
    (b"\x89PNG", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF8", "GIF image"),
    (b"\x1f\x8b", "gzip archive"), (b"\x7fELF", "ELF executable"),
)
# Bytes that do not occur in text: C0 controls except tab, newline, vertical tab, form feed, CR, ESC.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27)) + b"\x7f"
_MAX_CONTROL_SHARE = 0.05  # random bytes have ~11%; real text has ~0%
_TEXT_KEYS = ("text", "body", "content")
_DATE_KEYS = ("date", "published", "published_at", "publishedAt")


@dataclass(frozen=True)
class Ingested:
    """The articles read from a batch of paths, and one outcome per file looked at."""

    articles: tuple[Article, ...] = ()
    outcomes: tuple[FileOutcome, ...] = ()

    @property
    def rejected(self) -> tuple[FileOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "rejected")


# --- bytes -> str ----------------------------------------------------------------------

def _binary(name: str, kind: str) -> QAError:
    return QAError(f"{name} looks like a binary file ({kind}); only text articles can be indexed: {_TEXT_KINDS}")


def _bomless_utf16(data: bytes) -> str | None:
    """"utf-16-le"/"utf-16-be" when every other byte is NUL (ASCII-heavy UTF-16 text)."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zero_odd > 0.3 and zero_even < 0.02:
        return "utf-16-le"
    if zero_even > 0.3 and zero_odd < 0.02:
        return "utf-16-be"
    return None


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise QAError(
            f"{name} looks like {encoding.upper()} but byte {e.start} is invalid ({e.reason}); "
            "re-save the file as UTF-8"
        ) from None


_MAX_HIGH_SHARE = 0.3  # Western European prose in cp1252 is under 10% non-ASCII bytes


def decode_bytes(data: bytes, name: str) -> str:
    """Decode a text file of unknown encoding; QAError naming `name` if it is binary.

    >>> decode_bytes("café – “quoted”".encode("cp1252"), "a.txt")
    'café – “quoted”'
    """
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise _binary(name, kind)
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", name)
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return _strict(data, "utf-32", name)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", name)
    if (utf16 := _bomless_utf16(data)) is not None:
        return _strict(data, utf16, name)
    if b"\x00" in data:
        raise _binary(name, "contains NUL bytes")
    sample = data[:8192]
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if controls > _MAX_CONTROL_SHARE * len(sample):
        raise _binary(name, f"{controls} control characters in its first {len(sample)} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # cp1252 and latin-1 decode any byte, so a legacy file must look like Western text:
    # mostly ASCII with some accented letters. Otherwise it is binary or another code page.
    high = sum(b >= 0x80 for b in sample)
    if high > _MAX_HIGH_SHARE * len(sample):
        raise QAError(
            f"{name}: not readable text ({high} of its first {len(sample)} bytes are outside ASCII and it is not "
            "UTF-8); save it as UTF-8"
        )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte is a latin-1 character


# --- one file ---------------------------------------------------------------------------

def _size(n: float, exact: bool = True) -> str:
    for unit, scale in (("MB", 1024 ** 2), ("KB", 1024)):
        if n >= scale:
            v = f"{n / scale:.1f}"
            return f"{v if exact else v.removesuffix('.0')} {unit}"
    return f"{int(n)} bytes"


def _unsupported(path: Path) -> str:
    what = f"{path.suffix} is not supported" if path.suffix else "a file without an extension is not supported"
    return f"{path.name}: {what}; supported: {', '.join(SUPPORTED_SUFFIXES)}"


def read_file(path: str | Path, max_bytes: int | None = None) -> tuple[list[Article], list[str]]:
    """The articles in one file and warnings about parts of it that were skipped.

    Raises QAError naming the file when the whole file is unusable.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise QAError(f"{path} does not exist; check the path")
    if path.is_dir():
        raise QAError(f"{path} is a folder; pass it to ingest_paths (or `qa index build`) to read the files inside")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise QAError(_unsupported(path))
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise QAError(f"{name} is {_size(size)}; the limit is {_size(max_bytes, exact=False)}; split the file or raise the limit")
        data = path.read_bytes()
    except OSError as e:
        raise QAError(f"cannot read {path}: {e.strerror or e}") from None
    if not data:
        raise QAError(f"{name} is empty; nothing to index")
    text = decode_bytes(data, name)
    if not text.strip():
        raise QAError(f"{name} contains only whitespace; nothing to index")
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return _read_records(text, path)
    if suffix in (".html", ".htm"):
        cleaned = html_to_text(text)
    elif suffix in (".md", ".markdown"):
        cleaned = clean_news_text(markdown_to_text(text))
    else:
        cleaned = clean_news_text(text)
    if not cleaned.text:
        raise QAError(f"{name} has no article text left after removing boilerplate (captions, comment forms, links)")
    return [_article(name, cleaned, path)], []


def _article(article_id: str, c: Cleaned, path: Path) -> Article:
    return Article(id=article_id, text=c.text, title=c.title, date=c.date, publisher=c.publisher, url=c.url, path=str(path))


def _read_records(text: str, path: Path) -> tuple[list[Article], list[str]]:
    name = path.name
    records: list[tuple[str, Any]] = []  # (label for messages, parsed value or None if bad)
    warnings: list[str] = []
    if path.suffix.lower() == ".jsonl":
        # split on "\n" only: JSON strings may legally hold U+2028, which splitlines() would cut
        for lineno, line in enumerate(text.lstrip("\ufeff").split("\n"), 1):
            if not line.strip():
                continue
            try:
                records.append((f"line {lineno}", json.loads(line)))
            except json.JSONDecodeError as e:
                warnings.append(f"line {lineno}: not valid JSON ({e.msg} at column {e.colno})")
                records.append((f"line {lineno}", None))
    else:
        try:
            data = json.loads(text.lstrip("\ufeff"))
        except json.JSONDecodeError as e:
            raise QAError(
                f"{name} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
                "fix it, or save one article per line as .jsonl"
            ) from None
        if isinstance(data, dict) and isinstance(data.get("articles"), list):
            data = data["articles"]
        if isinstance(data, dict):
            records.append(("the record", data))
        elif isinstance(data, list):
            records.extend((f"record {i}", r) for i, r in enumerate(data))
        else:
            raise QAError(
                f"{name} holds a JSON {type(data).__name__}; expected an article object, "
                'a list of them, or {"articles": [...]}'
            )
    articles = []
    for index, (label, record) in enumerate(records):
        if record is None:
            continue  # already warned
        article = _record_article(record, f"{name}#{index}", path, label, warnings)
        if article is not None:
            articles.append(article)
    if not articles:
        shown = "; ".join(warnings[:3]) + (f"; and {len(warnings) - 3} more" if len(warnings) > 3 else "")
        raise QAError(f"{name} has no usable record ({shown or 'no records'}); each needs a non-empty text, body or content field")
    return articles, warnings


def _scalar(value: Any) -> str | None:
    if isinstance(value, dict):  # NewsAPI style: "source": {"id": ..., "name": "Reuters"}
        value = value.get("name")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _record_article(record: Any, default_id: str, path: Path, label: str, warnings: list[str]) -> Article | None:
    if not isinstance(record, dict):
        warnings.append(f"{label}: not a JSON object")
        return None
    body = next((record[k] for k in _TEXT_KEYS if isinstance(record.get(k), str) and record[k].strip()), None)
    if body is None:
        warnings.append(f"{label}: no text/body/content field")
        return None
    looks_html = "</p>" in body.lower() or "<br" in body.lower()
    cleaned = html_to_text(body) if looks_html else clean_news_text(body)
    if not cleaned.text:
        warnings.append(f"{label}: no article text left after removing boilerplate")
        return None
    raw_date = next((record[k] for k in _DATE_KEYS if record.get(k) not in (None, "")), None)
    date = normalise_date(raw_date) if raw_date is not None else None
    if raw_date is not None and date is None:
        warnings.append(f"{label}: date {raw_date!r} not understood; left empty")
    return Article(
        id=_scalar(record.get("id")) or default_id,
        text=cleaned.text,
        title=_scalar(record.get("title")) or cleaned.title,
        date=date or cleaned.date,
        publisher=_scalar(record.get("source")) or _scalar(record.get("publisher")) or cleaned.publisher,
        url=_scalar(record.get("url")) or cleaned.url,
        path=str(path),
    )


# --- many paths ---------------------------------------------------------------------------

def _walk(folder: Path) -> Iterator[tuple[Path, str | None]]:
    """Files under `folder` in sorted order, each with a rejection message or None."""
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as e:
        yield folder, f"cannot list folder {folder}: {e.strerror or e}"
        return
    for entry in entries:
        if entry.name.startswith("."):
            kind = "folder" if entry.is_dir() else "file"
            yield entry, f"{entry.name} is a hidden {kind}; skipped (remove the leading dot to index it)"
        elif entry.is_dir():
            if entry.is_symlink():
                yield entry, f"{entry.name} is a link to a folder; not followed (pass its target to index it)"
            else:
                yield from _walk(entry)
        elif entry.suffix.lower() not in SUPPORTED_SUFFIXES:
            yield entry, _unsupported(entry)
        else:
            yield entry, None


def list_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """Every file the paths name, folders walked recursively in sorted order, each with a
    rejection message or None (read_file reports missing files and bad extensions)."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from _walk(p)
        else:
            yield p, None


@dataclass(frozen=True)
class FileRead:
    """One file's articles and the warnings about parts of it skipped, or why it was refused."""

    path: Path
    articles: tuple[Article, ...] = ()
    notes: tuple[str, ...] = ()
    rejection: str | None = None


def read_listed(path: Path, rejection: str | None, max_bytes: int | None = None) -> FileRead:
    """`read_file` for one entry of `list_files`: any problem becomes the file's rejection."""
    if rejection is None:
        try:
            articles, notes = read_file(path, max_bytes=max_bytes)
            return FileRead(path, tuple(articles), tuple(notes))
        except QAError as e:
            rejection = str(e)
        except (OSError, ValueError, RecursionError) as e:  # e.g. a JSON nested too deep
            rejection = f"{path.name} could not be read: {e}"
    return FileRead(path, rejection=rejection)


def ingest_paths(paths: Iterable[str | Path], max_bytes: int | None = None) -> Ingested:
    """Read files and folders (recursively, sorted); one bad file never stops the others.

    >>> result = ingest_paths(["data/articles"])  # doctest: +SKIP
    >>> [o.status for o in result.outcomes]  # doctest: +SKIP
    ['read', 'read', 'read', 'read', 'read']
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]  # a lone path, not an iterable of characters
    return collect(read_listed(path, rejection, max_bytes) for path, rejection in list_files(paths))


def collect(reads: Iterable[FileRead]) -> Ingested:
    """The articles kept from files read in listing order, and one outcome per file.

    A read may come from another machine (qa/ray_build.py reads on a Ray cluster); the rules
    that depend on order are applied here, in one place: identical text is kept once, and a
    second article under one id is refused.
    """
    kept: list[Article] = []
    by_text: dict[str, Article] = {}
    by_id: dict[str, Article] = {}
    outcomes: list[FileOutcome] = []
    for read in reads:
        if read.rejection is not None:
            outcomes.append(FileOutcome(path=str(read.path), status="rejected", message=read.rejection))
            continue
        new: list[Article] = []
        duplicates: list[str] = []
        clashes: list[str] = []
        for a in read.articles:
            if (first := by_text.get(a.text)) is not None:
                same_file = first.path == a.path and first.id == a.id
                duplicates.append(f"{a.id} was already read" if same_file
                                  else f"{a.id} has the same text as {first.id} ({first.path})")
            elif (other := by_id.get(a.id)) is not None:
                clashes.append(
                    f"article id {a.id!r} is already used by a different article from {other.path}; "
                    "rename the file or give the record a unique id"
                )
            else:
                by_text[a.text] = by_id[a.id] = a
                new.append(a)
        kept.extend(new)
        message = "; ".join(list(read.notes) + duplicates + clashes)
        if new:
            status = "read"
        elif duplicates and not clashes:
            status = "duplicate"
        else:
            status = "rejected"
        outcomes.append(FileOutcome(path=str(read.path), status=status, message=message,
                                    article_ids=tuple(a.id for a in new)))
    return Ingested(articles=tuple(kept), outcomes=tuple(outcomes))
