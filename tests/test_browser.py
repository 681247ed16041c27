"""The page in a real headless Chromium: answers with clickable [n] markers, a source viewer
with the passage highlighted, and hostile articles that stay inert (no script, no dialog,
no remote image). Screenshots go to tests/artifacts/ for a human to look at."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"),
                       reason="/usr/bin/chromium is missing: `make chromium` (or apt-get install chromium) installs it"),
]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TRAP = 9  # port of the "remote" image server nothing may contact

HOSTILE_TXT = """Brindlecombe harbour <script>window.__pwned=1;alert(1)</script> report

The harbour of Brindlecombe registered 7319 fishing boats in 2023, the harbour master said. <img src=x onerror="window.__pwned=2;alert(2)"> The count was a record.

A picture of the boats: ![x](http://127.0.0.1:9/x.png) was posted online.
"""
HOSTILE_JSONL = (
    '{"id": "quillmoor_bells", "title": "Quillmoor <img src=x onerror=\\"window.__pwned=3;alert(3)\\"> news", '
    '"date": "2023-05-01", "publisher": "<b>Evil</b> Press", "url": "javascript:alert(4)", '
    '"text": "The village of Quillmoor owns 5821 copper bells, the mayor said. '
    '<script>window.__pwned=5;alert(5)</script> ![y](http://127.0.0.1:9/y.png) The bells ring daily."}\n'
)


def _env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                QA_CONFIG="/nonexistent/qa.toml")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    built = subprocess.run([str(Path(sys.executable).parent / "qa"), "index", "build", str(ROOT / "data/articles"),
                            "--index", str(tmp / "index")], env=_env(), capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--index", str(tmp / "index")],
                            cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp / "app.log").read_text()
            assert time.monotonic() < deadline, "app.py did not answer within 120 s"
            try:
                urllib.request.urlopen(url + "/gradio_api/info", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture
def page(app_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(60_000)
            pg.dialogs, pg.trapped = [], []
            pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
            pg.on("request", lambda r: pg.trapped.append(r.url) if urlsplit(r.url).port == TRAP else None)
            pg.failed = []
            pg.on("requestfailed", lambda r: pg.failed.append((r.url, r.failure)) if urlsplit(r.url).port == TRAP else None)
            pg.goto(app_url, wait_until="domcontentloaded")
            pg.wait_for_selector("#qa-question textarea")
            yield pg
        finally:
            browser.close()


def ask(page, question: str, turn: int) -> None:
    """Ask in the chat and wait until the answer's sources panel (or an error) is shown."""
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-ask").click()
    page.wait_for_function(
        """(turn) => document.querySelector(`#qa-sources [data-qa-cite^="${turn}-"]`)
                    || document.querySelector('#qa-sources .qa-refusal')""", arg=turn)


def ask_with_a_bad_date(page) -> None:
    """Set an impossible From date and ask: the chat shows the error."""
    page.get_by_role("button", name="Options").click()
    page.get_by_label("From date").fill("2022-13-45")
    page.locator("#qa-question textarea").fill("Which missile violates the INF treaty?")
    page.locator("#qa-ask").click()
    page.locator("#qa-chat").get_by_text("is not a date like").wait_for()


def test_answer_marker_opens_highlighted_passage(page):
    ask(page, "Which missile violates the INF treaty?", 0)
    marker = page.locator('#qa-chat a[href="#qa-cite-0-1"]').first
    assert marker.inner_text() == "[1]"
    assert "9M729" in page.locator("#qa-chat").inner_text()
    card_quote = page.locator("#qa-sources .qa-source").first.locator("mark").inner_text()
    marker.click()
    mark = page.locator("#qa-viewer mark")
    mark.wait_for()
    assert mark.is_visible() and mark.inner_text() == card_quote and "9M729" in mark.inner_text()
    assert page.url.endswith("/")  # the click was handled, not followed as a link
    page.screenshot(path=str(ARTIFACTS / "answer_with_source.png"), full_page=True)

    page.locator("#qa-new").click()  # New chat clears the history and the panels
    page.wait_for_function("() => !document.querySelector('#qa-chat').innerText.includes('9M729')")
    assert page.locator("#qa-viewer mark").count() == 0


def test_hostile_articles_stay_inert(page, tmp_path):
    (tmp_path / "brindlecombe.txt").write_text(HOSTILE_TXT, encoding="utf-8")
    (tmp_path / "quillmoor.jsonl").write_text(HOSTILE_JSONL, encoding="utf-8")
    page.get_by_role("tab", name="Articles").click()
    page.locator("#qa-files input[type=file]").set_input_files(
        [str(tmp_path / "brindlecombe.txt"), str(tmp_path / "quillmoor.jsonl")])
    page.locator("#qa-files").get_by_text("quillmoor", exact=True).wait_for()  # shown as stem + extension
    page.locator("#qa-upload").click()
    page.wait_for_function("() => (document.querySelector('#qa-outcomes')?.innerText.match(/added/g) || []).length == 2")
    corpus = page.locator("#qa-corpus").inner_text()
    assert "quillmoor_bells" in corpus and "<b>Evil</b> Press" in corpus  # shown as text
    page.screenshot(path=str(ARTIFACTS / "hostile_upload.png"), full_page=True)

    page.get_by_role("tab", name="Chat").click()
    ask(page, "How many copper bells does Quillmoor own?", 0)
    assert "5821" in page.locator("#qa-chat").inner_text()
    page.locator('#qa-chat a[href="#qa-cite-0-1"]').first.click()
    page.locator("#qa-viewer mark").wait_for()
    viewer = page.locator("#qa-viewer").inner_text()
    assert "<script>window.__pwned=5;alert(5)</script>" in viewer  # the payload is visible text
    assert '<img src=x onerror="window.__pwned=3;alert(3)">' in viewer
    assert page.locator("#qa-viewer a").count() == 0  # javascript: URL is not a link

    ask(page, "How many fishing boats did the Brindlecombe harbour register?", 1)
    page.locator('#qa-chat a[href="#qa-cite-1-1"]').first.click()
    page.wait_for_function("() => document.querySelector('#qa-viewer')?.innerText.includes('7319')")
    # the question itself is hostile too: the chatbot shows it as text
    ask(page, 'Quillmoor bells ![z](http://127.0.0.1:9/z.png) <img src=x onerror="window.__pwned=6;alert(6)">', 2)
    assert "![z](http://127.0.0.1:9/z.png)" in page.locator("#qa-chat").inner_text()
    page.wait_for_timeout(1500)  # give any injected handler time to fire
    page.screenshot(path=str(ARTIFACTS / "hostile_answer.png"), full_page=True)

    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    assert page.trapped == []
    assert page.locator("#qa-chat img, #qa-sources img, #qa-viewer img").count() == 0


def test_image_policy_blocks_remote_images(page):
    assert "img-src 'self' data: blob:" in page.evaluate(
        "() => document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')?.content || ''")
    blocked = page.evaluate("""() => new Promise(resolve => {
        document.addEventListener('securitypolicyviolation', e => resolve(e.blockedURI), {once: true});
        const img = document.createElement('img');
        img.src = 'http://127.0.0.1:9/csp.png';
        document.body.appendChild(img);
        setTimeout(() => resolve(null), 3000);
    })""")
    assert blocked == "http://127.0.0.1:9/csp.png"
    page.wait_for_timeout(500)
    assert page.failed == [("http://127.0.0.1:9/csp.png", "csp")]  # blocked by the policy, never sent


def test_refusal_and_bad_date_are_shown_as_such(page):
    ask(page, "What is the boiling point of liquid nitrogen on Mars?", 0)
    assert page.locator("#qa-sources .qa-refusal").is_visible()
    assert "Not answered" in page.locator("#qa-chat").inner_text()
    ask_with_a_bad_date(page)
    page.screenshot(path=str(ARTIFACTS / "refusal_and_bad_date.png"), full_page=True)
    assert page.locator("#qa-sources .qa-refusal, #qa-sources [data-qa-cite]").count() == 0  # the error cleared them


# ---- streaming, Stop, filter chips, fonts ---------------------------------------------

# Every change of the last chat message, split into its status lines (a paragraph that is
# all italics) and its answer text: what a reader saw, frame by frame.
RECORD_FRAMES = """() => {
  window.__frames = [];
  const read = () => {
    const bots = document.querySelectorAll('#qa-chat .message.bot, #qa-chat [data-testid="bot"]');
    const last = bots[bots.length - 1];
    if (!last) return;
    const paras = [...last.querySelectorAll('p, blockquote')];
    const isStatus = p => p.querySelector('em') && p.innerText.trim() === (p.querySelector('em').innerText || '').trim();
    window.__frames.push({status: paras.filter(isStatus).map(p => p.innerText.trim()),
                          text: paras.filter(p => !isStatus(p)).map(p => p.innerText.trim()).join(' ')});
  };
  new MutationObserver(read).observe(document.querySelector('#qa-chat'), {subtree: true, childList: true, characterData: true});
}"""


def _choose_generative(page) -> None:
    page.get_by_role("button", name="Options").click()
    page.get_by_label("generative").check()


def test_stop_cancels_a_running_generative_answer(page):
    _choose_generative(page)
    page.evaluate(RECORD_FRAMES)
    page.locator("#qa-question textarea").fill("Which missile violates the INF treaty?")
    page.locator("#qa-ask").click()
    # the generator is cold in this app (extractive is its default): the chat says so while it loads
    page.locator("#qa-chat").get_by_text("Loading the language model").wait_for(timeout=60_000)
    assert page.locator("#qa-ask").is_hidden() and page.locator("#qa-stop").is_visible()  # Ask became Stop
    page.locator("#qa-stop").click()
    page.locator("#qa-chat").get_by_text("Stopped.").wait_for()
    page.locator("#qa-ask").wait_for(state="visible")
    assert page.locator("#qa-stop").is_hidden()
    page.wait_for_timeout(3000)  # the cancelled answer must not arrive later
    assert page.locator("#qa-sources [data-qa-cite]").count() == 0
    assert "9M729" not in page.locator("#qa-chat").inner_text()
    page.screenshot(path=str(ARTIFACTS / "stopped.png"), full_page=True)


def test_generative_stream_never_shows_text_the_answer_lacks(page):
    _choose_generative(page)
    page.evaluate(RECORD_FRAMES)
    # SmolLM2 answers this one itself (greedy, verified), so generated text is what streams
    page.locator("#qa-question textarea").fill("What did Stoltenberg say NATO will not compromise on?")
    page.locator("#qa-ask").click()
    page.wait_for_function("() => document.querySelector('#qa-sources [data-qa-cite^=\"0-\"], #qa-sources .qa-refusal')",
                           timeout=240_000)
    page.wait_for_timeout(500)
    frames = page.evaluate("() => window.__frames")
    final = frames[-1]["text"]
    assert final, frames[-1]
    assert "generated answer was not used" not in " ".join(frames[-1]["status"]) and "compromise" in final
    shown = [f["text"] for f in frames if f["text"] and f["text"] != "…"]
    for text in shown:  # every streamed frame is the start of the final answer, never text it drops
        assert final.startswith(text.rstrip(" …")), (text, final)
    page.screenshot(path=str(ARTIFACTS / "generative_answer.png"), full_page=True)


def test_filter_chips_render_refuse_with_the_filter_and_remove(page):
    page.get_by_role("button", name="Options").click()
    page.get_by_label("To date").fill("2021-12-31")
    chip = page.locator("#qa-chip-to")
    chip.wait_for(state="visible")
    assert chip.inner_text().startswith("To 2021-12-31")
    assert "undated articles excluded" in page.locator("#qa-chip-note").inner_text()
    ask(page, "Who said NATO is not a dove of peace?", 0)
    chat = page.locator("#qa-chat").inner_text()
    assert "within the filter (dated to 2021-12-31)" in chat and "Searched articles: dated to 2021-12-31" in chat
    page.screenshot(path=str(ARTIFACTS / "filter_chips.png"), full_page=True)
    chip.click()  # one click removes the filter
    chip.wait_for(state="hidden")
    assert page.get_by_label("To date").input_value() == ""
    page.locator("#qa-question textarea").fill("Who said NATO is not a dove of peace?")
    page.locator("#qa-ask").click()
    page.wait_for_selector('#qa-sources [data-qa-cite^="1-"]')  # answered, this time
    assert "Peskov" in page.locator("#qa-chat").inner_text().split("dove of peace?")[-1]


def test_an_empty_question_gets_a_hint(page):
    page.locator("#qa-ask").click()
    page.get_by_text("Type a question about the articles first").first.wait_for()


# A character the page's fonts lack is drawn as the font's empty box (.notdef), the same
# box for every missing character: compare each character's pixels with a private-use one's.
MISSING_GLYPHS = """(chars) => {
  const c = document.createElement('canvas'); c.width = 40; c.height = 40;
  const g = c.getContext('2d', {willReadFrequently: true});
  const font = getComputedStyle(document.querySelector('#qa-chat')).fontFamily;
  const draw = ch => { g.clearRect(0, 0, 40, 40); g.font = `28px ${font}`; g.fillText(ch, 4, 30);
                       return g.getImageData(0, 0, 40, 40).data.join(','); };
  const box = draw('\\uE000');
  return chars.filter(ch => draw(ch) === box);
}"""


def test_no_character_renders_as_a_missing_glyph_box(page):
    ask(page, "What did Peskov say about NATO?", 0)
    ask_with_a_bad_date(page)
    page.screenshot(path=str(ARTIFACTS / "glyphs.png"), full_page=True)
    text = page.locator("body").inner_text()
    chars = sorted({ch for ch in text if ord(ch) > 127 and not ch.isspace()})
    assert chars  # quotes, dashes, ×, ·: the check has something to check
    assert page.evaluate(MISSING_GLYPHS, chars) == []
    assert page.evaluate(MISSING_GLYPHS, ["\u2757"]) == ["\u2757"]  # the old ❗ was such a box here


def test_news_aware_answers_show_period_conflict_and_timeline(page):
    ask(page, "What did Stoltenberg say in February 2020?", 0)
    assert "Searched articles about 2020-02-01 to 2020-02-29 (“in February 2020”)" in page.locator("#qa-chat").inner_text()
    period = page.locator("#qa-chip-period")
    period.wait_for(state="visible")
    page.locator("#qa-ask").wait_for(state="visible")  # the turn's follow-up events are done before the chip is used
    page.wait_for_timeout(500)
    assert "2020-02-01 to 2020-02-29" in period.inner_text()
    period.click()  # the question's period becomes the date filter, editable
    page.locator("#qa-chip-to").wait_for(state="visible")
    page.get_by_role("button", name="Options").click()
    assert page.get_by_label("From date").input_value() == "2020-02-01" and page.get_by_label("To date").input_value() == "2020-02-29"
    page.locator("#qa-chip-from").click()  # removed again, one chip at a time
    page.locator("#qa-chip-to").click()
    page.locator("#qa-chip-to").wait_for(state="hidden")
    ask(page, "When did the Geneva talks begin?", 1)
    marker = page.locator("#qa-chat strong", has_text="Reports differ:")
    marker.wait_for()
    assert "January 20" in page.locator("#qa-chat").inner_text().split("Reports differ:")[-1]
    page.locator("#qa-question textarea").fill("the INF Treaty")
    page.locator("#qa-timeline").click()  # the topic typed, as a timeline
    page.wait_for_selector('#qa-sources [data-qa-cite^="2-"]')
    last = page.locator("#qa-chat").inner_text().split("Timeline of the INF Treaty")[-1]
    assert "August 2019 — " in last and last.index("August 2019") < last.index("February 2020")
    page.screenshot(path=str(ARTIFACTS / "news_aware.png"), full_page=True)
