"""The web app as a client meets it: `python app.py` over a real index, driven by gradio_client.

One server per module (building the index and loading MiniLM take ~20 s), with a small
upload limit so the size check can be exercised. Plus the app's input checks, unit-tested.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.ui import Handlers, check_upload, parse_filters, parse_history

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Which missile violates the INF treaty?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               QA_CONFIG="/nonexistent/qa.toml")  # ignore any qa.toml in the working tree
    env.update(extra)
    return env


def build_index(folder: Path) -> Path:
    out = subprocess.run([str(Path(sys.executable).parent / "qa"), "index", "build", str(ROOT / "data/articles"),
                          "--index", str(folder)], env=app_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return folder


def start_app(index: Path, log: Path, **env: str):
    """Launch `app.py` on a free port; returns (process, url). Waits at most 120 s."""
    port = free_port()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--index", str(index)],
                                cwd=ROOT, env=app_env(**env), stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/gradio_api/info", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"app.py did not answer within 120 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def built_index(tmp_path_factory):
    return build_index(tmp_path_factory.mktemp("built") / "index")


@pytest.fixture(scope="module")
def server(tmp_path_factory, built_index):
    tmp = tmp_path_factory.mktemp("app")
    index = Path(shutil.copytree(built_index, tmp / "index"))
    proc, url = start_app(index, tmp / "app.log", QA_MAX_UPLOAD_MB="0.05")
    try:
        yield {"url": url, "index": index, "log": tmp / "app.log"}
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server["url"], verbose=False)


def article_count(index: Path) -> int:
    from qa.assistant import Assistant
    from qa.config import Config

    return len(Assistant.open(Config(index_dir=str(index))).articles())


# ---- against the running app --------------------------------------------------------


def test_ask_endpoint_answers_with_citations(client, server):
    d = client.predict(QUESTION, [], "extractive", 5, api_name="/ask")
    assert set(d) >= {"question", "search_query", "answer", "refused", "mode", "citations", "closest",
                      "verification", "timings_ms"}
    assert d["refused"] is False and d["mode"] == "extractive"
    assert "9M729" in d["answer"] and "[1]" in d["answer"]
    sources = {c["source"] for c in d["citations"]}
    assert sources & {"003_c804dac4115a1700.txt", "004_7e226a48a90657f7.txt"}, sources
    assert "127.0.0.1" in server["log"].read_text()  # bound to loopback by default


def test_ask_endpoint_takes_history_as_json_string(client):
    d = client.predict("Who said that?", json.dumps([QUESTION]), "extractive", 3, api_name="/ask")
    assert d["question"] == "Who said that?"
    assert d["search_query"] != "Who said that?"  # the follow-up was rewritten with the history
    assert len(d["citations"]) <= 3


def test_ask_endpoint_reports_bad_input(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="history"):
        client.predict(QUESTION, "not json", "extractive", 5, api_name="/ask")
    with pytest.raises(AppError, match="mode"):
        client.predict(QUESTION, [], "poetic", 5, api_name="/ask")


def test_upload_then_answer_from_the_new_article(client, tmp_path):
    from gradio_client import handle_file

    f = tmp_path / "zorvik_windmills.txt"
    f.write_text("Zorvik counts its windmills\n\nThe town of Zorvik has 4127 windmills, its mayor said on Monday. "
                 "Zorvik is the windmill capital of the valley.\n", encoding="utf-8")
    outcomes = client.predict([handle_file(str(f))], api_name="/upload")
    assert outcomes == [{"file": "zorvik_windmills.txt", "status": "added", "message": "",
                         "article_ids": ["zorvik_windmills.txt"]}]
    d = client.predict("How many windmills does Zorvik have?", [], "extractive", 5, api_name="/ask")
    assert d["refused"] is False and "4127" in d["answer"]
    assert d["citations"][0]["source"] == "zorvik_windmills.txt"


def test_bad_uploads_get_clear_messages_and_lose_nothing(client, server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    before = article_count(server["index"])
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 some text")
    (tmp_path / "ok.md").write_text("# Pellwick ferries\n\nPellwick runs 38 ferries a day.\n")
    files = [handle_file(str(tmp_path / n)) for n in ("empty.txt", "blob.txt", "report.pdf", "ok.md")]
    out = {o["file"]: o for o in client.predict(files, api_name="/upload")}
    assert out["empty.txt"]["status"] == "rejected" and "empty" in out["empty.txt"]["message"]
    assert out["blob.txt"]["status"] == "rejected" and "binary" in out["blob.txt"]["message"]
    assert out["report.pdf"]["status"] == "rejected" and "unsupported" in out["report.pdf"]["message"]
    assert out["ok.md"]["status"] == "added"  # one good file among bad ones still gets in
    assert article_count(server["index"]) == before + 1
    big = tmp_path / "big.txt"
    big.write_text("Large text. " * 6000)  # ~72 KB, over the 0.05 MB limit of this server
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # refused before it is stored
        client.predict([handle_file(str(big))], api_name="/upload")
    assert article_count(server["index"]) == before + 1


def test_no_file_outside_the_app_is_served(server):
    for path in ("/gradio_api/file=/etc/passwd", "/file=/etc/passwd", "/gradio_api/file=../../../../etc/passwd"):
        try:
            with urllib.request.urlopen(server["url"] + path, timeout=10) as r:
                body = r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
        assert "root:" not in body, path


def test_page_carries_the_image_policy(server):
    with urllib.request.urlopen(server["url"] + "/config", timeout=10) as r:
        config = json.loads(r.read())
    assert "img-src 'self' data: blob:" in config.get("head", "")


# ---- the handlers in-process, over a real index --------------------------------------


def test_chat_handlers_stream_filter_follow_up_and_remove(built_index, tmp_path):
    from types import SimpleNamespace

    from qa.assistant import Assistant
    from qa.config import Config

    index = shutil.copytree(built_index, tmp_path / "index")
    h = Handlers(Assistant.open(Config(index_dir=str(index))))
    corpus, pubs, ids = h.corpus_updates()
    assert pubs["choices"] == ["IZ", "TASS", "dailymail.co.uk"] and len(ids["choices"]) == 5
    assert "5 articles" in corpus

    steps = list(h.ask(QUESTION, [], None, "extractive", 5, "", "", ["TASS"]))
    assert len(steps) >= 3 and "9M729" in steps[-2][1][-1]["content"]  # text streamed before the final answer
    assert steps[-2][3] == {"__type__": "update"}  # ... which alone fills the sources panel
    _, chat, session, sources = steps[-1]
    answer = session["answers"][0]
    assert session["questions"] == [QUESTION] and not answer["refused"]
    assert {c["publisher"] for c in answer["citations"]} == {"TASS"}  # the publisher filter applied
    assert "(#qa-cite-0-1)" in chat[-1]["content"] and "<mark>" in sources

    steps = list(h.ask("Who said that?", chat, session, "extractive", 5, "", "", []))
    _, chat, session, _ = steps[-1]
    assert session["questions"] == [QUESTION, "Who said that?"]  # history = earlier questions
    assert chat[-1]["content"].startswith("*Searched for:")  # the rewritten follow-up is shown

    viewer = h.show_source(session, SimpleNamespace(cite="0-1"))
    assert "<mark>" in viewer and "9M729" in viewer

    steps = list(h.ask(QUESTION, chat, session, "extractive", 5, "2030-01-01", "", []))
    _, chat, session, sources = steps[-1]
    assert session["answers"][-1]["refused"] and "qa-refusal" in sources  # nothing dated 2030: refused
    steps = list(h.ask(QUESTION, chat, session, "extractive", 5, "2022-02-30", "", []))
    assert "is not a date like" in steps[-1][1][-1]["content"]
    assert len(steps[-1][2]["questions"]) == 3  # the bad-date question is not history

    cited = answer["citations"][0]["source"]
    corpus, pubs, ids = h.remove(cited)
    assert cited not in ids["choices"] and len(ids["choices"]) == 4
    assert "no longer in the index" in h.show_source(session, SimpleNamespace(cite="0-1"))


# ---- without a server ---------------------------------------------------------------


def test_missing_index_says_how_to_build_it(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "app.py"), "--index", str(tmp_path / "none")],
                         env=app_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "qa index build" in out.stderr and "make run" in out.stderr


def test_importing_the_app_loads_no_model():
    code = "import sys, app, qa.ui; print([m for m in ('torch', 'sentence_transformers', 'faiss') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=app_env(), capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_filters_from_controls():
    assert parse_filters("", " ", []) is None
    f = parse_filters("2020-01-01", "2022-12-31", ["TASS"])
    assert (f.date_from, f.date_to, f.publishers) == ("2020-01-01", "2022-12-31", ("TASS",))
    with pytest.raises(QAError, match="'2022-13-45'.*YYYY-MM-DD"):
        parse_filters("2022-13-45", "", [])
    with pytest.raises(QAError, match="'Jan 5'"):
        parse_filters("", "Jan 5", [])
    with pytest.raises(QAError, match="after"):
        parse_filters("2022-01-02", "2022-01-01", [])


def test_history_parsing():
    assert parse_history(None) == [] and parse_history("") == []
    assert parse_history('["a", "b"]') == ["a", "b"] and parse_history(["a"]) == ["a"]
    for bad in ("{", '{"a": 1}', [1, 2]):
        with pytest.raises(QAError):
            parse_history(bad)


def test_check_upload(tmp_path):
    ok = tmp_path / "a.txt"
    ok.write_text("Some news.\n")
    assert check_upload(ok, 10) is None
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    assert check_upload(tmp_path / "latin.txt", 10) is None  # encodings are qa.ingest's call
    cases = {"e.md": b"  \n", "b.json": b'{"text": "x\x00y"}',
             "x.docx": b"PK\x03\x04", "big.html": b"<p>" + b"a" * 3000}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    msgs = {n: check_upload(tmp_path / n, 0.002) for n in cases}
    assert all(o is not None and o.status == "rejected" for o in msgs.values()), msgs
    assert "empty" in msgs["e.md"].message and "binary" in msgs["b.json"].message
    assert "'.docx'" in msgs["x.docx"].message
    assert "limit" in msgs["big.html"].message
