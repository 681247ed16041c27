"""Several users at once against the real app (`python app.py` in a subprocess): the small
version of bench/load.py, which holds the helpers and runs the full 16-session load.

- 4 sessions x 2 questions at once: no errors, every answer cited and consistent;
- articles uploaded while sessions ask: every answer is consistent with a complete index,
  and the index read from disk meanwhile is always "before" or "after" an upload;
- a burst beyond queue_concurrency + queue_max_size: the excess is told at once that the
  queue is full (gradio_client raises QueueError), nothing hangs, the rest are answered.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.load import Server, answerable_questions, article_texts, burst, concurrent_sessions, inconsistencies, \
    summary, uploads_during_questions


@pytest.fixture(scope="module")
def server(bundled_index_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("load")
    index = Path(shutil.copytree(bundled_index_dir, tmp / "index"))
    with Server(index, tmp / "app.log") as s:
        yield s


def test_inconsistencies_are_found():
    texts = {"a.txt": "Zorvik has 4127 windmills. It is windy."}
    good = {"answer": "Zorvik has 4127 windmills. [1]", "refused": False, "closest": [],
            "citations": [{"n": 1, "source": "a.txt", "quote": "Zorvik has 4127 windmills.", "start": 0, "end": 26}]}
    assert inconsistencies(good, texts) == []
    assert inconsistencies(good | {"answer": "Zorvik. [2]"}, texts) == ["[2] has no citation"]
    assert inconsistencies(good, {}) == ["cites a.txt, which is not in the index"]
    shifted = good | {"citations": [good["citations"][0] | {"start": 1, "end": 27}]}
    assert inconsistencies(shifted, texts) == ["[1] quote is not a.txt[1:27]"]
    assert inconsistencies(good | {"citations": []}, texts) == ["[1] has no citation", "an answer without citations"]


def test_concurrent_sessions_get_cited_answers(server):
    run = concurrent_sessions(server.url, sessions=4, per_session=2, questions=answerable_questions())
    s = summary(run, article_texts(server.index))
    assert s["errors"] == 0, s["error_samples"]
    assert s["requests"] == 8 and s["cited"] == 8 and s["inconsistent"] == 0, s


def test_uploads_during_questions_never_expose_a_half_built_index(server, tmp_path):
    before = len(article_texts(server.index))
    s = uploads_during_questions(server, tmp_path / "new", uploads=3, sessions=3)
    assert s["errors"] == 0, s["error_samples"]
    assert s["inconsistent"] == 0, s["inconsistent_samples"]
    assert s["uploads_added"] == 3 and s["final_articles"] == before + 3, s["upload_outcomes"]
    assert s["disk_loads"] > 0 and s["disk_inconsistent"] == [], s
    assert s["new_article_answers_citing_the_wrong_article"] == []


def test_a_full_queue_says_so_at_once_instead_of_hanging(bundled_index_dir, tmp_path):
    index = Path(shutil.copytree(bundled_index_dir, tmp_path / "index"))
    # one answer at a time and one waiting: 10 requests at once cannot all be held
    with Server(index, tmp_path / "app.log", QA_QUEUE_CONCURRENCY="1", QA_QUEUE_MAX_SIZE="1") as s:
        b = burst(s.url, 10)
    assert b["hung"] == 0 and b["errors"] == 0, b["other_messages"]
    # at least the running one is answered; whether the one waiting slot is taken before the
    # burst's second request arrives is a race (under CPU load it often is not)
    assert b["busy"] >= 1 and b["answered"] >= 1 and b["busy"] + b["answered"] == b["requests"], b
    assert b["busy_message"] == "QueueError: Queue is full! Please try again."
    assert b["slowest_busy_reply_s"] < 30  # told straight away, not after waiting its turn
