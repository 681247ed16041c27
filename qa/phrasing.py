"""What a question asks, once the way people write it is taken off.

Why: people do not type search queries. They write "I'm writing a story - can you tell me
which missile NATO says violates the INF Treaty?", "Please explain …", paste a question
with markup in it, or ask for an overview ("Summarise what the articles say about arms
control"). The old gate read every word as a topic word and refused the first of these
because no article says "writing" or "story". This module turns the question as written
into a typed `Request`: the plain question that retrieval and the gate read, and whether
it asks for a summary (and of what).

Decisions:
- Framing is removed as *phrases* at the edges of the question ("can you tell me", "I'm
  writing a story about X -", "please", "thanks"), never as single words anywhere: "story"
  or "writing" in the middle of a question can be its topic ("Who is writing the report?").
  Leftover politeness words ("please", "exactly") are frame words for the gate
  (qa.lexicon.FRAME_WORDS), so they never count as topic terms either.
- Markup is ignored for matching: HTML tags and entities, Markdown emphasis and code
  marks. The question shown back to the user is the one they typed.
- A summary request names its topic; the topic is what is searched, and the answer is a
  cited overview of the most relevant passages (qa/compose.py), not a single fact.
- When stripping would leave nothing ("Please explain."), the question is kept as written.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    """A question as the answer layer reads it."""

    text: str  # the question without markup and framing: what retrieval and the gate read
    summary: bool = False  # an overview of a topic was asked for, not one fact
    topic: str = ""  # for a summary or a timeline: what it is about ("arms control")
    timeline: bool = False  # the dated claims about the topic, in date order, were asked for

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a request needs a question")


_TAG = re.compile(r"<[^>]{0,200}>")
_CODE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)  # never text of the question
_MARKDOWN = re.compile(r"(\*\*|__|\*|`+|~~)(?=\S)|(?<=\S)(\*\*|__|\*|`+|~~)|^\s*(?:#{1,6}|>)\s*", re.MULTILINE)

_ASK = r"(?:tell|show|give|let)\s+me(?:\s+know)?|explain(?:\s+to\s+me)?|say|find\s+out|check|confirm|clarify|remind\s+me"
_WORK = r"(?:story|article|piece|report|feature|paper|book|thesis|column|blog(?:\s+post)?|research|newsletter|podcast|briefing)"
# Phrases that open a question without being part of it, removed again and again from the
# front: "Hi! Quick question: could you please tell me …" -> "…".
_LEADING = [re.compile(p, re.IGNORECASE) for p in (
    r"^(?:hi|hello|hey|dear\s+\w+|good\s+(?:morning|afternoon|evening))(?:\s+there)?\s*[,!.:;-]*\s+",
    r"^(?:ok(?:ay)?|so|well|right|now|also|and|um+|uh+)\s*[,:;-]?\s+",
    r"^(?:thanks|thank\s+you)(?:\s+(?:so\s+much|a\s+lot|in\s+advance))?\s*[,!.:;-]+\s*",
    r"^(?:quick|one|a|another|simple|short)\s+question\s*[:,;.!-]+\s*",
    r"^(?:i\s*'?\s*m|i\s+am|we\s*'?\s*re|we\s+are)\s+(?:writing|working\s+on|preparing|doing|researching)\s+"
    rf"(?:(?:a|an|my|our|the)\s+)?(?:[\w-]+\s+){{0,2}}?{_WORK}\b[^-–—:;,.?!]*?(?:\s*[-–—:;,.!]+\s*|\s+and\s+)",
    rf"^for\s+(?:(?:a|an|my|our|the)\s+)?(?:[\w-]+\s+){{0,2}}?{_WORK}\b[^-–—:;,?!]*?\s*[-–—:;,]+\s*",
    r"^(?:i\s*'?\s*d|i\s+would|we\s*'?\s*d|we\s+would)\s+(?:really\s+)?(?:like|love|want)\s+to\s+(?:know|understand|find\s+out|learn)\s*(?:,\s*)?",
    r"^(?:i|we)\s+(?:want|need|wish|was\s+hoping|am\s+hoping|hope)\s+to\s+(?:know|understand|find\s+out|learn)\s*(?:,\s*)?",
    r"^(?:i\s*'?\s*m|i\s+am|i\s+was|we\s*'?\s*re|we\s+were)\s+(?:wondering|curious|trying\s+to\s+(?:find\s+out|understand|work\s+out))"
    r"(?:\s+(?:about|to\s+know))?\s*[,:-]?\s*",
    r"^(?:do|does|would)\s+(?:you|anyone)\s+(?:happen\s+to\s+)?know\s*[,:-]?\s*",
    rf"^(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|kindly\s+|possibly\s+|maybe\s+)?(?:help\s+me\s+(?:understand|find\s+out|with)\s+|{_ASK})\s*(?:,\s*)?",
    r"^(?:please|kindly|pls|plz)\s*[,:]?\s+",
    rf"^(?:{_ASK})\s*(?:[,:]\s*)?",
    r"^help\s+me\s+(?:understand|find\s+out)\s*[,:]?\s*",
    r"^(?:briefly|quickly|in\s+short|in\s+brief|exactly|precisely)\s*[,:]?\s+",
    r"^(?:in\s+as\s+much\s+detail\s+as\s+(?:you\s+can(?:\s+manage)?|possible)|as\s+briefly\s+as\s+(?:you\s+can|possible)|if\s+(?:you\s+can|possible))\s*[,:]?\s*",
)]
# The same kind of aside inside or at the end: ", please", ", in as much detail as you can manage,", "Thanks!".
_INNER = [re.compile(p, re.IGNORECASE) for p in (
    r"\s*,?\s*\b(?:in\s+as\s+much\s+detail\s+as\s+(?:you\s+can(?:\s+manage)?|possible)|as\s+briefly\s+as\s+(?:you\s+can|possible)"
    r"|if\s+(?:you\s+can|possible|you\s+don'?t\s+mind)|if\s+you\s+would|for\s+me|please|kindly)\b\s*,?(?=\s|[?.!]|$)",
    r"(?<=[?.!])\s*(?:thanks|thank\s+you|cheers|ta)(?:\s+(?:so\s+much|a\s+lot|in\s+advance))?\s*[.!]*\s*$",
    r"\s*[,;-]?\s*(?:thanks|thank\s+you)(?:\s+(?:so\s+much|a\s+lot|in\s+advance))?\s*[.!]*\s*(?=[?]?$)",
)]

# "Summarise what the articles say about X", "Give me an overview of X", "What do the
# articles say about X?": an overview of X.
_SUMMARY = [re.compile(p, re.IGNORECASE) for p in (
    r"^(?:summari[sz]e|sum\s+up|recap|outline|review)\s+(?:for\s+me\s+)?(?:briefly\s+)?"
    r"(?:(?:what|everything)\s+(?:the\s+)?(?:articles?|archive|coverage|reports?|sources?|news)\s+(?:says?|said|reports?|tells?\s+us)\s+"
    r"(?:about|on|regarding|concerning)\s+|(?:the\s+)?(?:articles?|coverage|reporting|news|reports?)\s+(?:about|on|of|regarding)\s+|)(?P<topic>.+)$",
    r"^(?:give|write|make|provide)\s+(?:me\s+|us\s+)?(?:a|an)\s+(?:short\s+|brief\s+|quick\s+)?(?:summary|overview|recap|rundown|digest)\s+"
    r"(?:of|on|about)\s+(?:what\s+(?:the\s+)?articles?\s+say\s+(?:about|on)\s+)?(?P<topic>.+)$",
    r"^(?:an?\s+)?(?:short\s+|brief\s+|quick\s+)?(?:summary|overview|recap|rundown)\s+(?:of|on|about)\s+(?P<topic>.+)$",
    r"^(?:everything\s+|more\s+)?about\s+(?P<topic>.+)$",  # "Tell me about X", once "tell me" is gone
    r"^what\s+(?:do|does|did)\s+(?:the\s+)?(?:articles?|archive|coverage|reports?|sources?|news)\s+(?:say|report|tell\s+us)\s+"
    r"(?:about|on|regarding|concerning)\s+(?P<topic>.+)$",
    r"^what\s+(?:is|was)\s+(?:known|reported|said)\s+(?:about|on)\s+(?P<topic>.+)$",
    r"^(?:tell\s+me|explain)\s+(?:everything\s+|more\s+)?about\s+(?P<topic>.+)$",
)]


# "Timeline of X", "What happened with X?", "How did X develop?": X's dated claims in date order.
_TIMELINE = [re.compile(p, re.IGNORECASE) for p in (
    r"^(?:give\s+me\s+|show\s+me\s+|make\s+|build\s+)?(?:a\s+|the\s+)?(?:timeline|chronology)\s+(?:of|for|on)\s+(?P<topic>.+)$",
    r"^what\s+(?:happened|has\s+happened)\s+(?:with|to|over)\s+(?P<topic>.+?)(?:\s+over\s+time)?$",
    r"^how\s+(?:did|has|have)\s+(?P<topic>.+?)\s+(?:develop|developed|evolve|evolved|unfold|unfolded|change|changed)(?:\s+over\s+time)?$",
)]


def plain_text(question: str) -> str:
    """The question without markup: tags, entities and Markdown marks removed.

    >>> plain_text("<b>Which missile</b> violates the <i>INF&nbsp;treaty</i>?")
    'Which missile violates the INF treaty?'
    >>> plain_text("Who said **NATO** is not a `dove` of peace?")
    'Who said NATO is not a dove of peace?'
    """
    text = html.unescape(_TAG.sub(" ", _CODE.sub(" ", question)))
    text = _MARKDOWN.sub("", text)
    text = re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()
    return re.sub(r"\s+([?.!,;:])", r"\1", text)


def without_framing(question: str) -> str:
    """The question without the politeness and framing around it.

    >>> without_framing("I'm writing a story - can you tell me which missile NATO says violates the INF Treaty?")
    'Which missile NATO says violates the INF Treaty?'
    >>> without_framing("Could you please explain to me, in as much detail as you can manage, who chaired the talks?")
    'Who chaired the talks?'
    >>> without_framing("Who is writing the report on the talks?")
    'Who is writing the report on the talks?'
    """
    text = question.strip()
    changed = True
    while changed:
        changed = False
        for p in _LEADING:
            stripped = p.sub("", text, count=1)
            if stripped != text and stripped.strip(" ?.!,"):
                text, changed = stripped.lstrip(" ,:;-–—"), True
    for p in _INNER:
        stripped = p.sub("", text)
        if stripped.strip(" ?.!,"):
            text = stripped
    text = re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s+", " ", text)).strip()
    if not text.strip(" ?.!,"):
        return question.strip()
    return text[0].upper() + text[1:] if text[0].islower() else text


def parse_request(question: str) -> Request:
    """The `Request` behind a question as written.

    >>> parse_request("Please summarise what the articles say about arms control.")
    Request(text='Arms control', summary=True, topic='arms control', timeline=False)
    >>> parse_request("Hi! Can you tell me when the talks began? Thanks")
    Request(text='When the talks began?', summary=False, topic='', timeline=False)
    >>> parse_request("What happened with the INF Treaty?").timeline
    True
    """
    plain = plain_text(question) or question.strip()
    core = without_framing(plain)
    for p in _TIMELINE:
        m = p.match(core.rstrip(" ?.!"))
        if m and m.group("topic").strip(" ?.!,;:"):
            topic = m.group("topic").strip(" ?.!,;:")
            return Request(topic[0].upper() + topic[1:], topic=topic, timeline=True)
    for p in _SUMMARY:
        m = p.match(core)
        if m:
            topic = m.group("topic").strip(" ?.!,;:")
            topic = re.sub(r"^(?:the\s+)?(?:articles?|coverage|reporting|news)\s+(?:about|on)\s+", "", topic, flags=re.IGNORECASE)
            if topic:
                return Request(topic[0].upper() + topic[1:], True, topic)
    return Request(core)


__all__ = ["Request", "parse_request", "plain_text", "without_framing"]
