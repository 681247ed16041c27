"""Generative answers: the prompt, the HTTP endpoint client against a real local server,
the whole ask path driven by that server (deterministic), and the real SmolLM2 (slow)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa.config import Config
from qa.errors import QAError
from qa.generate import EndpointGenerator, LocalGenerator, load_generator
from qa.prompt import MAX_PASSAGE_CHARS, NOT_IN_ARTICLES, SYSTEM_PROMPT, build_messages

QUESTION = "Which missile violates the INF treaty?"


# --- prompt ---------------------------------------------------------------------------
def test_prompt_numbers_the_passages_and_ends_with_the_question(assistant):
    hits = assistant.search(QUESTION, k=3)
    msgs = build_messages("Which  missile\nviolates the INF treaty?", list(enumerate(hits, 1)))
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == SYSTEM_PROMPT and NOT_IN_ARTICLES in SYSTEM_PROMPT
    user = msgs[1]["content"]
    assert user.endswith("\n\nQuestion: Which missile violates the INF treaty?")
    starts = [user.index(f"[{n}] ") for n in (1, 2, 3)]
    assert starts == sorted(starts) and starts[0] == 0 and "[4]" not in user
    for n, hit in enumerate(hits, 1):  # each passage's text, whitespace collapsed, after its number
        assert f"[{n}] {' '.join(hit.chunk.text.split())}" in user


def test_prompt_clips_a_long_passage(assistant):
    from dataclasses import replace

    hit = assistant.search(QUESTION, k=1)[0]
    long = replace(hit, chunk=replace(hit.chunk, text=("word " * 400).strip(), end=hit.chunk.start + 1999))
    user = build_messages("q?", [(1, long)])[1]["content"]
    passage = user.split("\n\n")[0]
    assert passage.endswith(" ...") and len(passage) <= MAX_PASSAGE_CHARS + len("[1]  ...")


# --- a real OpenAI-compatible server ------------------------------------------------------
class FakeServer:
    """http.server in a thread speaking /v1/chat/completions, JSON and SSE. `reply` maps the
    request body to the answer text; every request body is recorded."""

    def __init__(self, reply, status: int = 200) -> None:
        self.reply, self.status, self.requests = reply, status, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                if server.status != 200:
                    self.send_response(server.status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "model not found"}')
                    return
                text = server.reply(body)
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    self.wfile.write(b": ping\n\n")
                    for piece in re.findall(r"\S+\s*", text):
                        event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n')
                    self.wfile.write(b"data: [DONE]\n\n")
                else:
                    data = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(data.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_endpoint_generate_sends_a_greedy_chat_request():
    with FakeServer(lambda body: "  Hello there [1].  ") as srv:
        gen = EndpointGenerator(srv.url + "/", "smollm2:135m", api_key="sekret", timeout_s=5)
        assert gen.generate(MESSAGES, 42) == "Hello there [1]."
    req = srv.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["body"] == {"model": "smollm2:135m", "messages": MESSAGES, "temperature": 0, "max_tokens": 42, "stream": False}
    assert req["headers"]["Authorization"] == "Bearer sekret"


def test_endpoint_stream_parses_server_sent_events():
    with FakeServer(lambda body: "NATO met in Brussels [1]. It lasted two days [2].") as srv:
        pieces = list(EndpointGenerator(srv.url, "m", timeout_s=5).stream(MESSAGES, 20))
    assert len(pieces) > 3 and "".join(pieces) == "NATO met in Brussels [1]. It lasted two days [2]."
    assert srv.requests[0]["body"]["stream"] is True
    assert "Authorization" not in srv.requests[0]["headers"]


def test_endpoint_errors_name_the_fix():
    with FakeServer(lambda body: "", status=404) as srv:
        with pytest.raises(QAError, match=r"HTTP 404: .*model not found.*generator_endpoint_model \('nope'\)"):
            EndpointGenerator(srv.url, "nope", timeout_s=5).generate(MESSAGES, 5)
        port = srv.httpd.server_address[1]
    with pytest.raises(QAError, match="cannot reach the generator endpoint"):  # the server is gone
        EndpointGenerator(f"http://127.0.0.1:{port}/v1", "m", timeout_s=2).generate(MESSAGES, 5)
    with pytest.raises(QAError, match="not an http"):
        EndpointGenerator("localhost:11434", "m")


def test_load_generator_is_configured_and_made_once(tmp_path):
    a = load_generator(Config(generator_endpoint="http://127.0.0.1:9/v1", generator_endpoint_model="x"))
    assert isinstance(a, EndpointGenerator) and a.url == "http://127.0.0.1:9/v1/chat/completions"
    assert load_generator(Config(generator_endpoint="http://127.0.0.1:9/v1", generator_endpoint_model="x")) is a
    local = load_generator(Config(cache_dir=str(tmp_path), generator_model="some/model"))
    assert isinstance(local, LocalGenerator) and local.model_spec == "some/model" and local._model is None  # lazy


# --- the ask path with a deterministic generator behind the endpoint ---------------------------
def _passage(body: dict, n: int) -> str:
    user = body["messages"][-1]["content"]
    return re.search(rf"^\[{n}\] (.*)$", user, re.M).group(1)


def _first_sentence(text: str) -> str:
    return re.match(r"(.+?[.!?])(\s|$)", text).group(1)


def _ask_through(reply, index_dir, question=QUESTION, history=()):
    with FakeServer(reply) as srv:
        config = Config(index_dir=str(index_dir), generator_endpoint=srv.url, generator_endpoint_model="fake")
        from qa.assistant import Assistant

        events = list(Assistant.open(config).ask_stream(question, history=list(history), mode="generative"))
    return events, events[-1].answer, srv


def _check_citations(answer, index_dir):
    """Every marker points at a citation, every citation is used, quotes are exact."""
    from qa.assistant import Assistant

    used = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer.text)})
    assert used == [c.n for c in answer.citations] == list(range(1, len(used) + 1))
    articles = Assistant.open(Config(index_dir=str(index_dir))).index.articles
    for c in answer.citations:
        assert articles[c.source].text[c.start:c.end] == c.quote


def test_generated_answer_is_verified_attributed_and_renumbered(bundled_index_dir):
    # Cites the second passage for a true sentence copied from it, and adds an invention.
    def reply(body):
        return f"{_first_sentence(_passage(body, 2))} [2] Joe Biden signed it in Paris [3]."

    events, answer, srv = _ask_through(reply, bundled_index_dir)
    assert answer.mode == "generative" and not answer.refused
    assert answer.verification["outcome"] == "dropped 1 unsupported sentence(s)"
    assert answer.verification["dropped"][0]["sentence"].startswith("Joe Biden")
    assert "Biden" not in answer.text
    # The kept sentence cites [1] now (renumbered) and is led by who published it and when.
    assert re.fullmatch(r"(?:[^:]+, )?\d{1,2} \w+ 20\d\d: .+ \[1\]\.?", answer.text), answer.text
    assert len(answer.citations) == 1
    _check_citations(answer, bundled_index_dir)
    # only verified text was streamed, in its final form: the stream is the answer, the invention never shown
    assert "".join(e.text for e in events if e.kind == "delta") == answer.text


def _shown(events) -> str:
    return "".join(e.text for e in events if e.kind == "delta")


def test_the_stream_never_shows_what_the_final_answer_lacks(bundled_index_dir):
    # An unverifiable sentence between two good ones: held out of the stream, not struck out later.
    def reply(body):
        one, two = _first_sentence(_passage(body, 1)), _first_sentence(_passage(body, 2))
        return f"{one} [1] Joe Biden signed it in Paris [1]. {two} [2]"

    events, answer, _ = _ask_through(reply, bundled_index_dir)
    deltas = [e.text for e in events if e.kind == "delta"]
    assert len(deltas) >= 2 and _shown(events) == answer.text and "Biden" not in answer.text
    for i in range(1, len(deltas) + 1):  # every frame the chat showed is a prefix of the answer
        assert answer.text.startswith("".join(deltas[:i]))


def test_a_fallback_shows_no_generated_text_and_says_so(bundled_index_dir):
    events, answer, _ = _ask_through(lambda body: "Joe Biden met Xi Jinping in Beijing [1].", bundled_index_dir)
    statuses = [e.text for e in events if e.kind == "status"]
    assert any("quoting the articles instead" in s for s in statuses)
    assert "Biden" not in _shown(events) and _shown(events) == answer.text and answer.mode == "extractive"


def test_generated_not_in_articles_is_a_refusal(bundled_index_dir):
    events, answer, _ = _ask_through(lambda body: NOT_IN_ARTICLES, bundled_index_dir)
    assert _shown(events) == "" and answer.refused and answer.text.startswith("The articles don't say")
    assert not answer.citations and answer.closest
    assert answer.verification["outcome"].endswith("refused")


def test_unsupported_generation_falls_back_to_extractive(bundled_index_dir):
    _, answer, _ = _ask_through(lambda body: "Joe Biden met Xi Jinping in Beijing [1].", bundled_index_dir)
    assert not answer.refused and "9M729" in answer.text
    assert answer.verification["outcome"] == (
        "no generated sentence was supported by its passages; fell back to extractive"
    )
    _check_citations(answer, bundled_index_dir)


def test_question_outside_the_articles_never_reaches_the_generator(bundled_index_dir):
    _, answer, srv = _ask_through(lambda body: "France won it [1].", bundled_index_dir, "Who won the 2022 World Cup?")
    assert answer.refused and srv.requests == []


def test_follow_up_reaches_the_generator_as_a_standalone_question(bundled_index_dir):
    _, answer, srv = _ask_through(
        lambda body: NOT_IN_ARTICLES, bundled_index_dir, "What is its other designation?",
        history=["Which Russian missile does NATO say violates the INF treaty?"],
    )
    question = srv.requests[0]["body"]["messages"][-1]["content"].rsplit("Question: ", 1)[1]
    assert question.startswith("What is its other designation?") and "missile" in question


# --- the real SmolLM2 ---------------------------------------------------------------
@pytest.fixture(scope="session")
def smollm_cache(tmp_path_factory):
    """A fresh cache folder: the first load converts the GGUF, the second reads the cache."""
    cache = tmp_path_factory.mktemp("qa-cache")
    first = LocalGenerator("", cache)
    first.load()
    second = LocalGenerator("", cache)
    second.load()
    return cache, first.load_info, second.load_info


@pytest.mark.slow
def test_converted_model_is_cached_and_reused(smollm_cache):
    cache, first, second = smollm_cache
    assert first["source"] == "converted" and second["source"] == "cache"
    assert (cache / "smollm2-135m-instruct" / "qa-source.json").is_file()
    assert (cache / "smollm2-135m-instruct" / "model.safetensors").is_file()
    assert second["seconds"] < first["seconds"]


@pytest.mark.slow
def test_real_model_generates_greedily(smollm_cache):
    gen = load_generator(Config(cache_dir=str(smollm_cache[0])))
    msgs = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    text = gen.generate(msgs, 8)
    assert text and text == gen.generate(msgs, 8)  # greedy: the same answer twice
    assert "".join(gen.stream(msgs, 8)).strip() == text


@pytest.fixture(scope="session")
def generative(bundled_index_dir, smollm_cache):
    from qa.assistant import Assistant

    return Assistant.open(Config(index_dir=str(bundled_index_dir), cache_dir=str(smollm_cache[0])))


@pytest.mark.slow
@pytest.mark.parametrize("question, history", [
    ("Which Russian missile does NATO say violates the INF treaty?", ()),
    ("What did Peskov say about NATO?", ()),
    ("What is its other designation?", ("Which Russian missile does NATO say violates the INF treaty?",)),
])
def test_real_model_answers_with_valid_citations_or_says_it_fell_back(generative, bundled_index_dir, question, history):
    t = time.perf_counter()
    answer = generative.ask(question, history=list(history), mode="generative")
    assert time.perf_counter() - t < 180
    outcome = answer.verification["outcome"]
    assert answer.verification["generated"] is not None
    if answer.refused:
        assert outcome.endswith("refused") and answer.closest
        return
    assert outcome in ("verified", "dropped 1 unsupported sentence(s)", "dropped 2 unsupported sentence(s)") \
        or outcome.endswith("fell back to extractive"), outcome
    assert answer.citations and re.search(r"\[1\]", answer.text)
    _check_citations(answer, bundled_index_dir)


@pytest.mark.slow
def test_real_model_is_never_asked_what_the_articles_do_not_cover(generative):
    answer = generative.ask("Who won the 2022 World Cup?", mode="generative")
    assert answer.refused and answer.text.startswith("The articles don't say")
    assert "generated" not in answer.verification and not answer.citations
