"""Bad input where a user meets it: questions, files (library and `qa` CLI), and index files.

One batch holds every kind of bad file together with good ones, through `add_paths` and
through `qa index add`: each bad file gets its own clear message, the good ones are
indexed, and nothing indexed before is lost. Questions that are empty or too long are
refused before any model runs. A tampered index is refused with IndexCorruptError, and
nothing on the load path can unpickle. Run with `-s` to print the outcome table that
docs/RELIABILITY.md quotes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.config import Config
from qa.errors import IndexCorruptError, QAError
from qa.store import MANIFEST, load_index, read_manifest

ROOT = Path(__file__).resolve().parents[1]
QA = [sys.executable, "-m", "qa.cli"]
LIMIT_MB = 1 / 64  # 16 KiB, so "too large" needs only a small file

GOOD = "The Harlow city council approved a new tram line on Monday, officials said. The line will open in 2026.\n"


def make_batch(folder: Path) -> dict[str, str]:
    """Write every kind of input; returns {file name: expected outcome ("read" or a message regex)}."""
    folder.mkdir()
    rng = random.Random(7)
    files: dict[str, tuple[bytes, str]] = {
        "good_tram.txt": (GOOD.encode(), "read"),
        "good_bridge.md": (b"# Bridge reopens\n\nThe Kessel bridge reopened on Friday after repairs, the mayor said.\n",
                           "read"),
        "legacy_cp1252.txt": ("Caf\u00e9 owners in Lyon said \u201cbusiness is back\u201d \u2013 sales rose 12% in "
                              "March.\n".encode("cp1252"), "read"),
        "legacy_latin1.txt": ("Se\u00f1or Ib\u00e1\u00f1ez opened the \u00abferia\u00bb in M\u00e1laga on Sunday, "
                              "organisers said.\n".encode("latin-1"), "read"),
        "random_bytes.txt": (bytes(rng.randrange(256) for _ in range(4000)), r"binary"),
        "photo_renamed.txt": (b"\x89PNG\r\n\x1a\n" + bytes(200), r"binary file \(PNG image\)"),
        "archive_renamed.txt": (b"", r"binary file \(zip archive\)"),  # filled below
        "empty.txt": (b"", r"is empty"),
        "blank.txt": (b"   \n\n\t  \n", r"only whitespace"),
        "too_big.txt": ((GOOD * 400).encode(), r"the limit is 16 KB"),
        "articles.zip": (b"", r"\.zip is not supported"),  # filled below
        "report.docx": (b"PK\x03\x04 not really a docx", r"\.docx is not supported"),
        "no_extension": (GOOD.encode(), r"without an extension is not supported"),
        "broken.json": (b'{"title": "x", "text": "unterminated', r"not valid JSON"),
        "number.json": (b"42", r"holds a JSON int"),
        "all_bad_lines.jsonl": (b'{"text": \n[1, 2\n{"title": "no text"}\n', r"no usable record"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    with zipfile.ZipFile(folder / "articles.zip", "w") as z:
        z.writestr("a.txt", GOOD)
    (folder / "archive_renamed.txt").write_bytes((folder / "articles.zip").read_bytes())
    return {name: expected for name, (_, expected) in files.items()}


def check_outcomes(outcomes: dict[str, tuple[str, str]], expected: dict[str, str]) -> None:
    assert set(outcomes) == set(expected)
    for name, want in expected.items():
        status, message = outcomes[name]
        if want == "read":
            assert status == "added", (name, status, message)
        else:
            assert status == "rejected", (name, status, message)
            assert name in message or name.split(".")[-1] in message, f"message does not name {name}: {message}"
            assert re.search(want, message), (name, message)


def table(outcomes: dict[str, tuple[str, str]]) -> str:
    rows = [f"| `{n}` | {s} | {m.replace('|', '/') or '-'} |" for n, (s, m) in sorted(outcomes.items())]
    return "\n".join(["| input | outcome | message |", "|---|---|---|", *rows])


def test_one_batch_of_bad_files_through_add_paths(index_copy, tmp_path):
    expected = make_batch(tmp_path / "in")
    assistant = Assistant.open(Config(index_dir=str(index_copy), max_upload_mb=LIMIT_MB))
    before = set(assistant.index.articles)
    result = assistant.add_paths([tmp_path / "in"])
    outcomes = {Path(o.path).name: (o.status, o.message) for o in result}
    print("\n" + table(outcomes))
    check_outcomes(outcomes, expected)
    reloaded = load_index(index_copy)
    added = {"good_tram.txt", "good_bridge.md", "legacy_cp1252.txt", "legacy_latin1.txt"}
    assert set(reloaded.articles) == before | added  # 2 good + 2 legacy encodings; nothing lost
    assert "“business is back” – sales" in reloaded.articles["legacy_cp1252.txt"].text
    assert "Señor Ibáñez" in reloaded.articles["legacy_latin1.txt"].text
    assert assistant.search("tram line Harlow", k=1)[0].article.id == "good_tram.txt"


def test_one_batch_of_bad_files_through_the_cli(index_copy, tmp_path):
    expected = make_batch(tmp_path / "in")
    before = set(load_index(index_copy).articles)
    paths = sorted(str(p) for p in (tmp_path / "in").iterdir())
    env = dict(os.environ, QA_CONFIG="/nonexistent/qa.toml", QA_MAX_UPLOAD_MB=str(LIMIT_MB), HF_HUB_OFFLINE="1")
    proc = subprocess.run([*QA, "index", "add", *paths, "--index", str(index_copy)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    outcomes = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*(\w+)  (\S+?)(?: \([^)]*\))?(?:: (.*))?$", line)
        if m and m.group(2).startswith(str(tmp_path)):
            outcomes[Path(m.group(2)).name] = (m.group(1), m.group(3) or "")
    check_outcomes(outcomes, expected)
    assert len(load_index(index_copy).articles) == len(before) + 4
    assert re.search(r"index .*: 9 articles", proc.stdout)


def test_jsonl_with_some_bad_lines_keeps_the_good_records(index_copy, tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_text('{"id": "m1", "title": "Tram", "text": "The Harlow tram line opens in 2026, officials said."}\n'
                 '{"text": \n[1, 2]\n{"title": "no text"}\n'
                 '{"id": "m2", "text": "The Kessel bridge reopened on Friday, the mayor said."}\n', encoding="utf-8")
    assistant = Assistant.open(Config(index_dir=str(index_copy)))
    (o,) = assistant.add_paths([f])
    assert o.status == "added" and o.article_ids == ("m1", "m2")
    # every skipped line is named, with what is wrong with it
    assert re.search(r"line 2: not valid JSON.*line 3: not a JSON object.*line 4: no text", o.message), o.message
    assert {"m1", "m2"} <= set(load_index(index_copy).articles)


# What the web page's upload handler (qa.ui.Handlers.add_files) says about the same batch.
# qa.ui checks type, size, emptiness and NUL bytes itself before qa.ingest sees a file.
WEB_EXPECTED = {
    "random_bytes.txt": r"binary", "photo_renamed.txt": r"binary", "archive_renamed.txt": r"binary",
    "empty.txt": r"the file is empty", "blank.txt": r"the file is empty",
    "too_big.txt": r"^41 KB is over the 16 KB limit per file$", "articles.zip": r"unsupported file type '\.zip'",
    "report.docx": r"unsupported file type '\.docx'", "no_extension": r"unsupported file type '\(none\)'",
    "broken.json": r"not valid JSON", "number.json": r"holds a JSON int", "all_bad_lines.jsonl": r"no usable record",
}


def test_one_batch_of_bad_files_through_the_web_upload_handler(index_copy, tmp_path):
    from qa.ui import Handlers

    expected = make_batch(tmp_path / "in")
    expected.update(WEB_EXPECTED)
    h = Handlers(Assistant.open(Config(index_dir=str(index_copy), max_upload_mb=LIMIT_MB)))
    before = set(load_index(index_copy).articles)
    rows = h.add_files(sorted(str(p) for p in (tmp_path / "in").iterdir()))
    outcomes = {r["file"]: (r["status"], r["message"]) for r in rows}
    print("\n" + table(outcomes))
    for name, want in expected.items():  # web messages need not repeat the file name: the row names it
        status, message = outcomes[name]
        assert status == ("added" if want == "read" else "rejected"), (name, status, message)
        assert want == "read" or re.search(want, message), (name, message)
    assert set(load_index(index_copy).articles) == before | {"good_tram.txt", "good_bridge.md", "legacy_cp1252.txt",
                                                             "legacy_latin1.txt"}
    # the page's button handler shows the same rows; an empty selection is a message, not a crash
    with pytest.raises(QAError, match="choose one or more"):
        h.add_files([])


def test_high_byte_garbage_is_rejected(tmp_path):
    from qa.ingest import ingest_paths

    rng = random.Random(3)
    f = tmp_path / "garbage.txt"
    f.write_bytes(bytes(rng.choice([b for b in range(0x80, 0x100)]) for _ in range(3000)))
    (outcome,) = ingest_paths([f]).outcomes
    assert outcome.status == "rejected", outcome


# ---- questions ------------------------------------------------------------------------

BAD_QUESTIONS = {"empty": ("", "the question is empty"), "whitespace": (" \n\t ", "the question is empty"),
                 "100,000 characters": ("Why? " * 20_000 + "x", "100,001 characters long; the limit is 2,000")}


@pytest.mark.parametrize("label", list(BAD_QUESTIONS))
@pytest.mark.parametrize("mode", ["extractive", "generative"])
def test_bad_question_is_refused_before_any_model(assistant, monkeypatch, label, mode):
    import qa.generate

    def no_model(*a, **k):
        raise AssertionError("a model was called for a question that should have been refused")

    monkeypatch.setattr(qa.generate, "load_generator", no_model)
    monkeypatch.setattr(assistant.embedder, "embed", no_model)
    monkeypatch.setattr(assistant.retriever.embedder, "embed", no_model)
    monkeypatch.setattr(assistant.retriever, "search", no_model)
    question, message = BAD_QUESTIONS[label]
    t = time.perf_counter()
    with pytest.raises(QAError, match=message):
        assistant.ask(question, mode=mode)
    assert time.perf_counter() - t < 0.5


@pytest.mark.parametrize("label", list(BAD_QUESTIONS))
def test_bad_question_through_the_cli(bundled_index_dir, label):
    question, message = BAD_QUESTIONS[label]
    env = dict(os.environ, QA_CONFIG="/nonexistent/qa.toml", HF_HUB_OFFLINE="1")
    t = time.perf_counter()
    proc = subprocess.run([*QA, "ask", question, "--mode", "generative", "--index", str(bundled_index_dir)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    took = time.perf_counter() - t
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
    assert "Loading weights" not in proc.stderr and took < 15


# ---- a tampered index -------------------------------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _gen(index: Path) -> Path:
    """The folder of the index's first segment."""
    return index / read_manifest(index)["segments"][0]["name"]


def _fix_checksum(index: Path, name: str) -> None:
    """Make the manifest agree with a tampered file, so the parsers themselves are tested."""
    m = json.loads((index / MANIFEST).read_text())
    p = _gen(index) / name
    m["segments"][0]["files"][name] = {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
    (index / MANIFEST).write_text(json.dumps(m))


@pytest.mark.parametrize("name, data", [
    ("articles.json", b'[{"id": "x", "text": '), ("chunks.npy", b"[[1, 2"), ("texts.bin", b"short"),
    ("bm25.npz", b"PK\x03\x04 not a zip"), ("vectors.faiss", b"\x00" * 64)])
def test_tampered_file_is_named(index_copy, name, data):
    (_gen(index_copy) / name).write_bytes(data)
    with pytest.raises(IndexCorruptError, match=re.escape(name) + ".*rebuild with `qa index build"):
        load_index(index_copy)


@pytest.mark.parametrize("name, data", [
    ("articles.json", b"{not json"), ("chunks.npy", _npy(np.array([[99, 0, 10, 0]], dtype=np.int64))),
    ("texts.bin", b"a text of another length"),
    ("bm25.npz", b"plain text, not numpy"),
    ("articles.json", b'{"a": 1}'),  # JSON of the wrong shape
    ("bm25.npz", b"PK\x03\x04 broken zip"),
])
def test_bad_content_with_a_matching_checksum_is_corrupt(index_copy, name, data):
    (_gen(index_copy) / name).write_bytes(data)
    _fix_checksum(index_copy, name)
    with pytest.raises(IndexCorruptError, match="rebuild with `qa index build"):
        load_index(index_copy)


def _segment(m: dict, **change) -> dict:
    """The manifest with its first segment's entry changed."""
    return m | {"segments": [m["segments"][0] | change, *m["segments"][1:]]}


def _manifest(index: Path, edit) -> None:
    m = json.loads((index / MANIFEST).read_text())
    (index / MANIFEST).write_text(edit(m) if callable(edit) else edit)


@pytest.mark.parametrize("edit, match", [
    ("{not json", r"manifest\.json is unreadable"),
    ("", r"manifest\.json is unreadable"),
    (lambda m: json.dumps(_segment(m, name="seg-bogus")), r"seg-bogus is missing"),
    (lambda m: json.dumps(m | {"format_version": 99}), r"index format 99"),
    (lambda m: json.dumps(_segment(m, files=None)), r"manifest\.json is damaged \(segment seg-\S+: no file checksums\)"),
    (lambda m: json.dumps({k: v for k, v in m.items() if k != "segments"}), r"manifest\.json is damaged \(no segment list\)"),
    ("[1, 2]", r"manifest\.json is not a manifest"),
    (lambda m: json.dumps(_segment(m, name=None)), r"manifest\.json is damaged \(segment None"),
    (lambda m: json.dumps(_segment(m, name="seg-../../etc")), r"is not a segment folder name"),
])
def test_tampered_manifest_is_corrupt(index_copy, edit, match):
    _manifest(index_copy, edit)
    with pytest.raises(IndexCorruptError, match=match):
        load_index(index_copy)


def test_manifest_dimension_that_disagrees_with_the_vectors_is_refused(index_copy):
    _manifest(index_copy, lambda m: json.dumps(m | {"dim": 768}))
    with pytest.raises(QAError, match="384.*768.*qa index build"):
        load_index(index_copy)


# ---- nothing is ever unpickled -----------------------------------------------------------

_UNSAFE = [
    (re.compile(r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b", re.M), "imports a pickler"),
    (re.compile(r"\bpickle\.loads?\("), "calls pickle.load"),
    (re.compile(r"allow_pickle\s*=\s*True"), "allow_pickle=True"),
    (re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)[^)]*\)"), "torch.load without weights_only=True"),
    (re.compile(r"(?<![.\w])(eval|exec)\("), "eval/exec"),
]


def test_no_module_can_unpickle():
    found = [f"{p.name}: {why}" for p in sorted((ROOT / "qa").glob("*.py"))
             for rx, why in _UNSAFE if rx.search(p.read_text("utf-8"))]
    assert found == []


def test_bm25_loads_with_allow_pickle_false(bundled_index_dir):
    with np.load(_gen(bundled_index_dir) / "bm25.npz", allow_pickle=False) as z:
        assert {"data", "indices", "indptr", "shape", "vocab"} <= set(z.files)
        assert all(z[k].dtype != object for k in z.files)


class _Payload:
    def __reduce__(self):
        return (Path.write_text, (Path(os.environ["QA_PWNED_MARKER"]), "pwned"))


def test_a_pickle_bomb_in_bm25_is_refused_not_run(index_copy, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("QA_PWNED_MARKER", str(marker))
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload()
    with open(_gen(index_copy) / "bm25.npz", "wb") as f:
        np.savez(f, data=arr, indices=arr, indptr=arr, shape=np.array([1, 1]), vocab=arr)
    _fix_checksum(index_copy, "bm25.npz")
    with pytest.raises(IndexCorruptError, match="allow_pickle=False"):
        load_index(index_copy)
    assert not marker.exists()
