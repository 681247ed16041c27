"""Timelines: dated claims about a topic, in date order, each cited."""

import datetime as dt
import re
import subprocess
import sys

from qa.phrasing import parse_request
from qa.timeline import first_date
from qa.ui import timeline_question


def test_timeline_requests_are_recognised():
    for q, topic in [("What happened with the INF Treaty?", "the INF Treaty"), ("Timeline of the Geneva talks", "the Geneva talks"),
                     ("How did the security talks develop?", "the security talks"),
                     ("Please give me a timeline of NATO-Russia relations", "NATO-Russia relations")]:
        r = parse_request(q)
        assert r.timeline and r.topic == topic and not r.summary, q
    assert not parse_request("What happened in Geneva on January 10?").timeline
    assert timeline_question("the INF Treaty") == "Timeline of the INF Treaty"


def test_a_sentence_is_dated_by_its_first_date_read_from_its_article():
    written = dt.date(2022, 1, 14)
    assert first_date("Meanwhile, last month, Russia presented draft proposals.", written) == (dt.date(2021, 12, 1), dt.date(2021, 12, 31))
    assert first_date("The US left the treaty in August 2019.", written) == (dt.date(2019, 8, 1), dt.date(2019, 8, 31))
    assert first_date("NATO met in May.", written) is None  # a bare month in prose says too little
    assert first_date("BRUSSELS, February 12. /TASS/. NATO met.", written) is None  # the dateline is filing, not news


def _days(text: str) -> list[str]:
    return [line.split(" — ")[0] for line in text.split("\n\n")]


def test_what_happened_with_a_topic_is_a_dated_cited_timeline(assistant):
    a = assistant.ask("What happened with the NATO-Russia talks?", mode="extractive")
    assert not a.refused and len(a.citations) >= 3
    lines = a.text.split("\n\n")
    assert len(lines) == len(a.citations) and all(line.endswith(f"[{n}]") for n, line in enumerate(lines, 1))
    firsts = []
    for when in _days(a.text):  # "12 January 2022", "December 2021", "2014": in date order
        m = re.fullmatch(r"(?:(\d{1,2}) )?(?:([A-Z][a-z]+) )?(\d{4})", when)
        assert m, when
        month = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                 "November", "December"].index(m.group(2)) + 1 if m.group(2) else 1
        firsts.append((int(m.group(3)), month, int(m.group(1) or 1)))
    assert firsts == sorted(firsts)
    for c in a.citations:
        assert assistant.index.articles[c.source].text[c.start:c.end] == c.quote


def test_a_timeline_of_an_unknown_topic_is_refused(assistant):
    a = assistant.ask("Timeline of the World Cup", mode="extractive")
    assert a.refused and "World" in a.text


def test_qa_timeline_on_the_command_line(bundled_index_dir):
    out = subprocess.run([sys.executable, "-m", "qa.cli", "timeline", "the INF Treaty", "--index", str(bundled_index_dir)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "August 2019 — " in out.stdout and "[1]" in out.stdout and "Sources:" in out.stdout
