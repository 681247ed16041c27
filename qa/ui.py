"""The Gradio chat app: layout and event wiring, with all display logic in `qa.render`.

What it decides: a chat turn streams `Assistant.ask_stream` into the chatbot and, when the
verified answer arrives, replaces the streamed text and fills the sources panel; the chat
history sent to the assistant is this chat's earlier questions (kept in session state,
never parsed back from the escaped chat). Uploads are checked here (type, size, empty,
binary) before `add_paths`, one file at a time so a bad file costs nothing already
indexed. Two named API endpoints, `ask` and `upload`, return plain JSON for
gradio_client. Importing this module loads no model.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from qa import render
from qa.errors import QAError
from qa.types import FileOutcome, Filters

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
MODES = ("extractive", "generative")

# Loaded into the page by `launch_options`. The CSP forbids images from anywhere but the
# app itself, so even a markup slip cannot make the browser fetch a remote image.
HEAD = """<meta http-equiv="Content-Security-Policy" content="img-src 'self' data: blob:">"""

CSS = """
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 8px 0; }
.qa-source.qa-active { outline: 2px solid var(--color-accent); }
.qa-source-head, .qa-viewer h3 { font-weight: 700; }  /* 600 falls back to a mismatched face */
.qa-n, .qa-open { cursor: pointer; border: none; background: none; color: var(--color-accent); padding: 0 2px; font: inherit; }
.qa-open { font-size: 0.85em; text-decoration: underline; }
.qa-meta { font-size: 0.85em; opacity: 0.8; margin: 2px 0 4px; overflow-wrap: anywhere; }
.qa-passage p, .qa-article p { margin: 4px 0; }
.qa-sources mark, .qa-viewer mark { background: #ffe066; color: #000; padding: 0 1px; }
.qa-refusal { border-left: 4px solid #d9480f; background: rgba(217, 72, 15, 0.08); padding: 6px 10px; margin: 6px 0; }
.qa-viewer { border-top: 1px solid var(--border-color-primary); margin-top: 8px; padding-top: 6px; max-height: 480px; overflow-y: auto; }
.qa-empty { opacity: 0.7; font-style: italic; padding: 6px 0; }
.qa-corpus table, .qa-outcomes { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.qa-corpus td, .qa-corpus th, .qa-outcomes td, .qa-outcomes th { border-bottom: 1px solid var(--border-color-primary); padding: 3px 6px; text-align: left; }
.qa-status-rejected { color: #c92a2a; }
#qa-chat a[href^="#qa-cite-"] { text-decoration: none; font-weight: 600; cursor: pointer; }
#qa-chips { gap: 6px; flex-wrap: wrap; }
.qa-chip { flex: 0 0 auto !important; min-width: 0 !important; border-radius: 999px !important; }
"""

# Runs once when the sources panel mounts. Clicks on our own elements (a source card's
# [n] or "Show whole article", or an [n] link in the chat) send "turn-n" to the server,
# which answers with the article. It reads only our data attributes and hrefs; article
# content is never evaluated.
SOURCES_JS = """
const fire = (key) => {
  if (/^\\d+-\\d+$/.test(key)) {
    trigger('click', {cite: key});
    document.querySelectorAll('.qa-source.qa-active').forEach(el => el.classList.remove('qa-active'));
    const card = document.getElementById('qa-source-' + key);
    if (card) card.classList.add('qa-active');
  }
};
window.__qaCiteFire = fire;
element.addEventListener('click', (e) => {
  const t = e.target.closest('[data-qa-cite]');
  if (t) { e.preventDefault(); fire(t.getAttribute('data-qa-cite')); }
});
if (!window.__qaCiteHooked) {
  window.__qaCiteHooked = true;
  document.addEventListener('click', (e) => {
    const a = e.target.closest ? e.target.closest('a[href^="#qa-cite-"]') : null;
    if (!a) return;
    e.preventDefault(); e.stopPropagation();
    window.__qaCiteFire(a.getAttribute('href').slice(9));
  }, true);
}
"""


# Runs when the viewer mounts: each new article scrolls to its highlighted passage.
VIEWER_JS = """
watch('value', () => {
  const box = element.querySelector('.qa-viewer'), m = element.querySelector('mark');
  if (box && m) box.scrollTop += m.getBoundingClientRect().top - box.getBoundingClientRect().top - 80;
});
"""


def launch_options(config: Any) -> dict[str, Any]:
    """Keyword arguments for `Blocks.launch` (Gradio 6 takes css/head there)."""
    return {
        "server_name": config.host,
        "server_port": config.port,
        "css": CSS,
        "head": HEAD,
        "max_file_size": int(config.max_upload_mb * 1024 * 1024),
        "footer_links": ["api"],
    }


# ---- input checks --------------------------------------------------------------------


def parse_date(value: str | None, label: str) -> str | None:
    """'' -> None; 'YYYY-MM-DD' -> itself; anything else -> QAError naming it."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise QAError(f"{label} date {value!r} is not a date like 2022-01-14 (YYYY-MM-DD)") from None
    return value


def parse_filters(date_from: str | None, date_to: str | None, publishers: Any) -> Filters | None:
    """The sidebar controls as `Filters`, or None when nothing restricts the search."""
    a, b = parse_date(date_from, "From"), parse_date(date_to, "To")
    if a and b and a > b:
        raise QAError(f"the From date {a} is after the To date {b}; swap them")
    pubs = tuple(p for p in (publishers or []) if p)
    f = Filters(date_from=a, date_to=b, publishers=pubs)
    return None if f.is_empty() else f


def parse_history(history: Any) -> list[str]:
    """API history: a list of earlier questions, or that list as a JSON string."""
    if history in (None, "", []):
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except json.JSONDecodeError:
            raise QAError(f"history {history[:60]!r} is not a JSON list of earlier questions") from None
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise QAError("history must be a list of earlier questions (strings)")
    return history


def check_upload(path: str | Path, max_mb: float) -> FileOutcome | None:
    """A rejection for a file that must not reach the index, or None when it may.

    Checks the extension, the size limit, emptiness and NUL bytes in the first 64 KiB."""
    p = Path(path)
    name = p.name
    if p.suffix.lower() not in SUPPORTED:
        return FileOutcome(name, "rejected", f"unsupported file type {p.suffix or '(none)'!r}; "
                           f"upload {', '.join(SUPPORTED)} files")
    size = p.stat().st_size
    if size > max_mb * 1024 * 1024:
        return FileOutcome(name, "rejected", f"{_human(size)} is over the {_human(max_mb * 1048576)} limit per file")
    head = p.read_bytes()[:65536]
    if not head.strip():
        return FileOutcome(name, "rejected", "the file is empty")
    if b"\x00" in head:
        return FileOutcome(name, "rejected", "the file is binary, not text")
    return None  # encodings and subtler binary content are judged by qa.ingest


def _human(nbytes: float) -> str:
    """'39 KB', '10 MB', '12.5 MB': sizes as a user reads them."""
    if nbytes < 1048576:
        return f"{nbytes / 1024:.0f} KB"
    return f"{nbytes / 1048576:.1f}".removesuffix(".0") + " MB"


def _named(o: FileOutcome, name: str) -> dict[str, Any]:
    """`o.to_dict()` with `path` replaced by `file`, the user's file name (not the server's
    temporary path). Not `path`: gradio_client downloads any JSON dict with a `path` string."""
    d = o.to_dict()
    del d["path"]
    return {"file": name, **d}


# ---- the app -------------------------------------------------------------------------


class Handlers:
    """The event handlers, closed over one Assistant (public so tests can call them directly)."""

    def __init__(self, assistant: Any) -> None:
        self.a = assistant
        self.cfg = assistant.config
        self._lock = threading.Lock()  # add/remove are not run concurrently

    # -- articles
    def article_text(self, article_id: str) -> str | None:
        """The cleaned text of an indexed article (None once removed); loads no model."""
        art = self.a.index.articles.get(article_id)
        return None if art is None else art.text

    def texts_for(self, answer: dict[str, Any]) -> dict[str, str]:
        out = {}
        for c in list(answer.get("citations") or []) + list(answer.get("closest") or []):
            t = self.article_text(c["source"])
            if t is not None:
                out[c["source"]] = t
        return out

    def corpus_updates(self) -> tuple[str, Any, Any]:
        arts = self.a.articles()
        pubs = sorted({a["publisher"] for a in arts if a.get("publisher")})
        ids = [a["id"] for a in arts]
        return (render.corpus_html(arts), gr.update(choices=pubs), gr.update(choices=ids, value=None))

    # -- chat
    def ask(self, question, chat, session, mode, top_k, date_from, date_to, publishers):
        question = (question or "").strip()
        chat = list(chat or [])
        session = session or {"questions": [], "answers": []}
        if not question:
            gr.Warning(EMPTY_HINT)
            yield gr.update(), list(chat), session, gr.update()
            return
        chat.append({"role": "user", "content": render.md_escape(question)})
        try:
            filters = parse_filters(date_from, date_to, publishers)
        except QAError as e:
            chat.append({"role": "assistant", "content": render.error_markdown(str(e))})
            yield question, list(chat), session, render.sources_html(None, len(session["answers"]), {})
            return
        turn = len(session["answers"])
        cleared = render.sources_html(None, turn, {})  # an error must not leave the last answer's sources up
        chat.append({"role": "assistant", "content": "*Searching the articles…*"})
        yield "", list(chat), session, gr.update()
        text, status, answer = "", None, None
        events = self.a.ask_stream(question, history=tuple(session["questions"]), filters=filters,
                                   mode=mode or None, top_k=int(top_k) if top_k else None)
        try:
            for ev in events:
                if ev.kind == "status":
                    status = ev.text
                elif ev.kind == "delta":
                    text += ev.text
                elif ev.kind == "final":
                    answer = ev.answer.to_dict()
                    break
                chat[-1] = {"role": "assistant", "content": render.partial_markdown(text, status, turn)}
                yield gr.update(), list(chat), session, gr.update()
        except QAError as e:
            chat[-1] = {"role": "assistant", "content": render.error_markdown(str(e))}
            yield gr.update(), list(chat), session, cleared
            return
        except Exception as e:  # a bug: say so in the chat instead of leaving "Searching…" up
            log.exception("answering %r failed", question)
            chat[-1] = {"role": "assistant", "content": render.error_markdown(
                f"internal error ({type(e).__name__}); the server log has the details")}
            yield gr.update(), list(chat), session, cleared
            return
        finally:
            events.close()  # Stop (or a closed tab) ends the answer: the model's decoding thread stops too
        if answer is None:
            chat[-1] = {"role": "assistant", "content": render.error_markdown("the assistant gave no answer")}
            yield gr.update(), list(chat), session, cleared
            return
        session = {"questions": session["questions"] + [question], "answers": session["answers"] + [answer]}
        chat[-1] = {"role": "assistant", "content": render.answer_markdown(answer, turn)}
        yield gr.update(), list(chat), session, render.sources_html(answer, turn, self.texts_for(answer))

    @staticmethod
    def stopped(chat):
        """Stop pressed: the partial answer stays, marked as stopped; Ask comes back."""
        chat = list(chat or [])
        if chat and chat[-1].get("role") == "assistant":
            chat[-1] = {"role": "assistant", "content": f"{chat[-1].get('content') or ''}\n\n*Stopped.*"}
        return chat, gr.update(visible=True), gr.update(visible=False)

    def chips(self, date_from, date_to, publishers):
        """The active filters as removable chips above the chat (hidden when unset), and how many
        undated articles a date filter leaves out."""
        pubs = [p for p in (publishers or []) if p]
        undated = self.a.index.undated_count() if (date_from or date_to) else 0
        note = f"{undated} undated article{'s' if undated != 1 else ''} excluded" if undated else ""
        return (gr.update(value=f"{', '.join(pubs)} ×", visible=bool(pubs)),
                gr.update(value=f"From {date_from} ×", visible=bool(date_from)),
                gr.update(value=f"To {date_to} ×", visible=bool(date_to)),
                gr.update(value=note, visible=bool(note)))

    @staticmethod
    def period_chip(session):
        """After an answer: the period its question named ("in February 2020"), as a chip that
        turns it into the date filter, where the user can edit it."""
        answers = (session or {}).get("answers") or []
        period = answers[-1].get("date_filter") if answers else None
        if not period:
            return gr.update(visible=False)
        return gr.update(value=f"Period from the question: {period['describe']} · edit", visible=True)

    @staticmethod
    def edit_period(session):
        """The last question's period into the From/To date filter (then shown as chips, editable)."""
        answers = (session or {}).get("answers") or []
        period = (answers[-1].get("date_filter") if answers else None) or {}
        return period.get("start") or "", period.get("end") or "", gr.update(visible=False)

    def show_source(self, session, evt: gr.EventData):
        key = str(getattr(evt, "cite", "") or "")
        try:
            turn, n = (int(x) for x in key.split("-"))
            answer = (session or {}).get("answers", [])[turn]
        except (ValueError, IndexError):
            return gr.update()
        items = answer.get("citations") or answer.get("closest") or []
        c = next((c for c in items if c["n"] == n), None)
        return render.viewer_html(c, self.article_text(c["source"]) if c else None)

    def new_chat(self):
        return [], {"questions": [], "answers": []}, render.sources_html(None, 0, {}), render.viewer_html(None, None), ""

    # -- API
    def api_ask(self, question, history, mode, top_k):
        try:
            ans = self.a.ask(question or "", history=tuple(parse_history(history)),
                             mode=mode or None, top_k=int(top_k) if top_k else None)
        except QAError as e:
            raise gr.Error(str(e)) from None
        return ans.to_dict()

    def api_upload(self, files):
        try:
            return self.add_files(files)
        except QAError as e:
            raise gr.Error(str(e)) from None

    def add_files(self, files, progress=None) -> list[dict[str, Any]]:
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        if not paths:
            raise QAError("choose one or more .txt, .md, .html, .json or .jsonl files first")
        outcomes = []
        with self._lock:
            for i, path in enumerate(paths):
                name = Path(path).name
                if progress is not None:
                    progress((i, len(paths)), desc=f"Indexing {name}")
                bad = check_upload(path, self.cfg.max_upload_mb)
                if bad is not None:
                    outcomes.append(_named(bad, name))
                    continue
                try:
                    outcomes.extend(_named(o, name) for o in self.a.add_paths([path]))
                except QAError as e:
                    outcomes.append(_named(FileOutcome(name, "rejected", str(e)), name))
        return outcomes

    def upload(self, files, progress=gr.Progress()):
        try:
            outcomes = self.add_files(files, progress)
        except QAError as e:
            gr.Warning(str(e))
            return (gr.update(),) + self.corpus_updates() + (gr.update(),)
        return (render.outcomes_html(outcomes),) + self.corpus_updates() + (None,)

    def remove(self, article_id):
        if not article_id:
            gr.Warning("Choose an article to remove first.")
            return self.corpus_updates()
        try:
            with self._lock:
                self.a.remove(article_id)
                gr.Info(f"Removed {article_id}")
        except QAError as e:
            gr.Warning(str(e))
        return self.corpus_updates()


EMPTY_HINT = "Type a question about the articles first, e.g. “Which missile violates the INF treaty?”"


def timeline_question(text: str) -> str:
    """What the Timeline button asks: "Timeline of <the topic typed>" (qa/phrasing.py reads it).

    >>> timeline_question("the INF Treaty"), timeline_question("Timeline of NATO"), timeline_question("  ")
    ('Timeline of the INF Treaty', 'Timeline of NATO', '')
    """
    text = (text or "").strip()
    return text if not text or text.lower().startswith(("timeline", "chronology")) else f"Timeline of {text}"


def _busy():
    return gr.update(visible=False), gr.update(visible=True)


def _idle():
    return gr.update(visible=True), gr.update(visible=False)


def build_app(assistant: Any) -> gr.Blocks:
    """The whole web app over one Assistant, queued; launch it with `launch_options`."""
    h = Handlers(assistant)
    cfg = assistant.config
    with gr.Blocks(title="qa · ask the news articles") as demo:
        session = gr.State({"questions": [], "answers": []})
        gr.Markdown("## qa · answers from your news articles, every claim cited")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    with gr.Row(elem_id="qa-chips"):  # the active filters, one click removes one
                        chip_pubs = gr.Button(visible=False, size="sm", elem_id="qa-chip-publishers", elem_classes=["qa-chip"])
                        chip_from = gr.Button(visible=False, size="sm", elem_id="qa-chip-from", elem_classes=["qa-chip"])
                        chip_to = gr.Button(visible=False, size="sm", elem_id="qa-chip-to", elem_classes=["qa-chip"])
                        chip_note = gr.Markdown(visible=False, elem_id="qa-chip-note")
                        chip_period = gr.Button(visible=False, size="sm", elem_id="qa-chip-period", elem_classes=["qa-chip"])
                    chatbot = gr.Chatbot(elem_id="qa-chat", height=520, latex_delimiters=[], sanitize_html=True,
                                         render_markdown=True, allow_tags=False, feedback_options=None,
                                         buttons=["copy"], label="Chat",
                                         placeholder="Ask a question about the indexed articles.")
                    with gr.Row():
                        question = gr.Textbox(placeholder="e.g. Which missile violates the INF treaty?",
                                              show_label=False, scale=6, elem_id="qa-question", max_lines=4)
                        ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask", min_width=90)
                        stop_btn = gr.Button("Stop", variant="stop", scale=1, elem_id="qa-stop", visible=False, min_width=90)
                        timeline_btn = gr.Button("Timeline", scale=1, elem_id="qa-timeline", min_width=90)
                        new_btn = gr.Button("New chat", scale=1, elem_id="qa-new", min_width=90)
                    with gr.Accordion("Options", open=False):
                        with gr.Row():
                            mode = gr.Radio(list(MODES), value=cfg.answer_mode, label="Answer mode",
                                            info="extractive quotes the articles; generative writes with a small model")
                            top_k = gr.Slider(1, 20, value=cfg.top_k, step=1, label="Passages (top k)")
                        with gr.Row():
                            date_from = gr.Textbox(label="From date", placeholder="YYYY-MM-DD")
                            date_to = gr.Textbox(label="To date", placeholder="YYYY-MM-DD")
                            publishers = gr.Dropdown([], multiselect=True, label="Publishers", value=[])
                with gr.Column(scale=2):
                    sources = gr.HTML(render.sources_html(None, 0, {}), elem_id="qa-sources", js_on_load=SOURCES_JS)
                    viewer = gr.HTML(render.viewer_html(None, None), elem_id="qa-viewer", js_on_load=VIEWER_JS)
        with gr.Tab("Articles"):
            files = gr.File(file_count="multiple", label="Upload articles (.txt .md .html .json .jsonl, "
                            f"up to {cfg.max_upload_mb:g} MB each)", elem_id="qa-files")
            upload_btn = gr.Button("Add to index", variant="primary", elem_id="qa-upload")
            outcomes = gr.HTML(elem_id="qa-outcomes")
            with gr.Row():
                remove_id = gr.Dropdown([], label="Remove an article", scale=4)
                remove_btn = gr.Button("Remove", variant="stop", scale=1)
            corpus = gr.HTML(elem_id="qa-corpus")
        with gr.Row(visible=False):  # API-only endpoints: plain JSON in and out
            api_q, api_hist, api_mode = gr.Textbox(), gr.JSON(), gr.Textbox()
            api_k, api_out, api_btn = gr.Number(), gr.JSON(), gr.Button()
            api_files, api_up_out, api_up_btn = gr.File(file_count="multiple"), gr.JSON(), gr.Button()

        chat_io = dict(inputs=[question, chatbot, session, mode, top_k, date_from, date_to, publishers],
                       outputs=[question, chatbot, session, sources], api_visibility="private")
        buttons = dict(outputs=[ask_btn, stop_btn], queue=False, api_visibility="private")
        runs = []
        as_timeline = timeline_btn.click(timeline_question, inputs=[question], outputs=[question], queue=False,
                                         api_visibility="private")  # "Timeline": the topic typed, as a timeline
        for trigger, name in ((ask_btn.click, "chat"), (question.submit, "chat_submit"), (as_timeline.then, "chat_timeline")):
            run = trigger(_busy, **buttons).then(h.ask, api_name=name, **chat_io)  # Ask turns into Stop ...
            run.then(_idle, **buttons)  # ... and back when the answer is in
            run.then(h.period_chip, inputs=[session], outputs=[chip_period], queue=False, api_visibility="private")
            runs.append(run)
        stop_btn.click(h.stopped, inputs=[chatbot], outputs=[chatbot, ask_btn, stop_btn], cancels=runs, queue=False,
                       api_visibility="private")
        filter_controls = [date_from, date_to, publishers]
        chip_io = dict(inputs=filter_controls, outputs=[chip_pubs, chip_from, chip_to, chip_note], api_visibility="private",
                       queue=False)
        for control in filter_controls:
            control.change(h.chips, **chip_io)
        chip_pubs.click(lambda: [], outputs=[publishers], api_visibility="private", queue=False).then(h.chips, **chip_io)
        chip_from.click(lambda: "", outputs=[date_from], api_visibility="private", queue=False).then(h.chips, **chip_io)
        chip_to.click(lambda: "", outputs=[date_to], api_visibility="private", queue=False).then(h.chips, **chip_io)
        # the period the last question named, made an editable date filter with one click
        chip_period.click(h.edit_period, inputs=[session], outputs=[date_from, date_to, chip_period], queue=False,
                          api_visibility="private").then(h.chips, **chip_io)
        new_btn.click(h.new_chat, api_name="new_chat", outputs=[chatbot, session, sources, viewer, question], api_visibility="private",
                      concurrency_limit=None)
        sources.click(h.show_source, api_name="show_source", inputs=[session], outputs=[viewer], scroll_to_output=True, api_visibility="private",
                      concurrency_limit=None)
        upload_btn.click(h.upload, api_name="upload_ui", inputs=[files], outputs=[outcomes, corpus, publishers, remove_id, files],
                         api_visibility="private", concurrency_id="index", concurrency_limit=1)
        remove_btn.click(h.remove, api_name="remove_ui", inputs=[remove_id], outputs=[corpus, publishers, remove_id],
                         api_visibility="private", concurrency_id="index", concurrency_limit=1)
        demo.load(h.corpus_updates, api_name="corpus", outputs=[corpus, publishers, remove_id], api_visibility="private")
        api_btn.click(h.api_ask, inputs=[api_q, api_hist, api_mode, api_k], outputs=[api_out], api_name="ask")
        api_up_btn.click(h.api_upload, inputs=[api_files], outputs=[api_up_out], api_name="upload",
                         concurrency_id="index", concurrency_limit=1)
    demo.queue(default_concurrency_limit=cfg.queue_concurrency, max_size=cfg.queue_max_size)
    return demo
