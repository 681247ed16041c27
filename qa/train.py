"""`make model` / `qa train`: fine-tune the answer-sentence ranker, reproducibly.

Why: choosing the sentence that answers a question is where hand-set rules failed on
questions nobody tuned for. A cross-encoder reads question and sentence together and is
trained for exactly this decision.

Decisions:
- Start from the shipped all-MiniLM-L6-v2 weights (no download), keep its first
  `layers` transformer layers, score a joint pass by the cosine of the question's and the
  sentence's mean token vectors (qa/pair_model.py: starts near the bi-encoder, where a fresh
  one-logit head started at chance), and train listwise: each question's candidate
  sentences compete in one softmax, the gold ones sharing the target.
- Data: SQuAD v1.1 dev, only the "dev-train" articles of the fixed split
  (`qa.benchmarks.squad_split`); the calibration and test articles are never seen here.
  Candidates are cut with the product's own sentence splitter. Positives: sentences that
  hold a gold answer span. Negatives: every other sentence of the paragraph, plus the
  sentences of other paragraphs of the same article that share most terms with the question
  (hard negatives: same topic, no answer). `make model` adds `--news`: the answerable
  questions of hand-labelled news sets (`NEWS_TRAIN`, fictional wire reports; never the
  news development or conflict held-out sets), each against its reports' sentences, seen
  NEWS_REPEAT times, since a ranker trained on Wikipedia alone chose the news answer
  sentence less often (docs/EVAL.md, "The news-trained ranker"). And `--news-misses`: the
  sets' written unanswerable questions, each against its reports' nearest sentences, where
  a learned "no answer" score must win (and lose every answer list); it refuses a person's
  near miss more often (docs/EVAL.md, "Written near misses shipped").
- The input is "question [SEP] title | sentence", the same text the ranker sees at run
  time (a news article's headline in place of the Wikipedia title).
- Fixed seed, one thread order, metrics printed at the end; weights saved as fp16
  safetensors with their SHA-256 in `manifest.json`, checked on every load.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from qa.ranker import candidate_spans, pair_text
from qa.text import STOPWORDS, stem, terms, words

DEFAULT_OUT = Path("models/answer-ranker")
SQUAD = Path("../shared/bench/squad-v1.1-dev/dev-v1.1.json.zip")
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
HEAD_LR = 1e-3
NULL_LR = 2e-2  # the "no answer" score starts at NULL_INIT and must find its level within one epoch
NULL_INIT = 12.0
HARD_NEGATIVES = 3  # sentences from other paragraphs of the same article, most terms shared
NEAR_MISS_CANDIDATES = 4  # the candidates of a question's near-miss list (its paragraph left out)
NO_ANSWER = -1.0  # label of a near-miss list's sentences: the learned "no answer" score should win
# --erased: the gold sentence with its answer span cut out joins the question's list as a
# negative, so the gold must win on the answer itself, not on the words it shares with the
# question (a person's near miss reuses the report's words but lacks the fact asked).
# A preposition or article right before the span goes with it ("trapped at [300 metres]").
ERASE_BEFORE = re.compile(r"(?:\b(?:in|into|on|onto|at|by|of|from|to|for|about|around|some|nearly|over|under|between|during|"
                          r"after|before|since|until|through|within|among|including|the|a|an|than|as|with)\s+)+$", re.IGNORECASE)
ERASED_MIN_WORDS = 5  # an erased sentence shorter than this is dropped (too little left to be a near miss)
# --swapped: each question is also asked with one word its gold sentence shares replaced by a
# word from elsewhere in the article (a name for a name, a plural for a plural), and the gold
# sentence, scored for that question, is a negative in the question's list: a person's near
# miss asks about a neighbour of what the report says ("the women's race" where it gives the men's).
SWAP_MIN_LETTERS = 4  # words shorter than this are not swapped, nor used as replacements
SWAP_PREFIX = 5  # a replacement shares fewer leading letters than this with the word it replaces
# Distillation (--teacher): the student's loss is DISTILL_WEIGHT of the teacher's soft ranking
# (its softmax over the list at DISTILL_TEMPERATURE, scaled by T^2 as usual) and the rest of the
# gold-sentence loss. Textbook values (Hinton et al. 2015), not tuned here.
DISTILL_WEIGHT = 0.5
DISTILL_TEMPERATURE = 2.0


@dataclass(frozen=True)
class Pair:
    question: str
    title: str
    sentence: str
    label: float  # 1.0: the sentence holds a gold answer; NO_ANSWER: a near-miss list (see squad_pairs)
    asked: str = ""  # the question as scored, when it differs from the list's `question` (--swapped)
    list_key: str = ""  # the ranking list it belongs to, when its sentences have different titles (--news)

    @property
    def scored(self) -> str:
        return self.asked or self.question


def erase(sentence: str, start: int, end: int) -> str | None:
    """`sentence` without its characters start:end (an answer span) and the prepositions or
    articles just before it, tidied; None when the span opens the sentence or too little is
    left.

    >>> erase("The miners were trapped at 300 metres after the collapse.", 27, 37)
    'The miners were trapped after the collapse.'
    >>> erase("Denver beat Carolina 24-10 to win the title.", 21, 26)
    'Denver beat Carolina to win the title.'
    >>> erase("Peyton Manning threw two touchdown passes.", 0, 14) is None
    True
    """
    head = sentence[:start]
    if not head.strip():
        return None
    head = ERASE_BEFORE.sub("", head.rstrip() + " ").rstrip()
    if not head:
        return None
    tail = re.sub(r"^(?:'s|’s)\b", "", sentence[end:])  # "Astra's satellites" -> "satellites"
    out = head + " " + tail.lstrip()
    out = re.sub(r"\s+([,.;:!?)])", r"\1", out)
    out = re.sub(r"\(\s*\)|,(?=\s*[,.;:])", "", out)
    out = re.sub(r"\s{2,}", " ", out).strip()
    return out if len(out.split()) >= ERASED_MIN_WORDS else None


_DETERMINER = r"(?:the|a|an|its|their|his|her|our|this|that|these|those)"
# A word that can be swapped for another of its kind: a name (capitalised, not the first word)
# or a word right after a determiner (a noun or an adjective: "the [men's] race", "its [budget]").
_SWAPPABLE = re.compile(rf"(?<=[\w,;:] )(?P<name>[A-Z][a-z]+(?:['’]s)?)\b|\b(?i:{_DETERMINER}) (?P<word>[a-z]+(?:['’]s)?)\b")


# Endings of adverbs, participles and adjectives ("the relevant", "the increasing"): not swapped.
_NOT_A_NOUN = re.compile(r"(?:ly|ing|ed|al|ive|ous|ful|ic|able|ible|ant|ent)$")


def swappable(text: str) -> list[str]:
    """The words of `text` that `swap` may replace, or use as a replacement.

    >>> swappable("Who won the men's race in Boston after a storm?")
    ["men's", 'Boston', 'storm']
    """
    out = []
    for m in _SWAPPABLE.finditer(text):
        w = m.group("name") or m.group("word")
        bare = re.sub(r"['’]s$", "", w)
        if len(bare) >= SWAP_MIN_LETTERS - 1 and bare.lower() not in STOPWORDS and not _NOT_A_NOUN.search(bare):
            out.append(w)
    return out


def swap(question: str, sentence: str, answers: Sequence[str], pool: Sequence[str], rng: random.Random) -> str | None:
    """`question` with one word that `sentence` shares (not the first, not part of an answer)
    replaced by a word of `pool` of the same shape (capitalised or not, plural or not) that
    neither the sentence nor the question uses; None when there is none.

    >>> swap("Who won the men's race in Boston?", "Tom Reed won the men's race in Boston.", ["Tom Reed"],
    ...      ["Chicago", "marathon", "winners"], random.Random(0))
    "Who won the men's race in Chicago?"
    """
    shared = {stem(w.lower()) for w in words(sentence)}
    spots = [w for w in swappable(question) if stem(w.lower()) in shared and not any(w.lower() in a.lower() for a in answers)]
    if not spots:
        return None
    w = rng.choice(spots)
    at = question.index(w)
    fits = [x for x in pool if x[0].isupper() == w[0].isupper() and x.endswith("s") == w.endswith("s")
            and x.lower()[:SWAP_PREFIX] != w.lower()[:SWAP_PREFIX] and stem(x.lower()) not in shared
            and x.lower() not in question.lower()]
    return question[:at] + rng.choice(fits) + question[at + len(w):] if fits else None


def squad_pairs(path: Path, split: str, seed: int = 0, near_misses: bool = False, erased: bool = False,
                swapped: bool = False) -> list[Pair]:
    """(question, sentence, label) pairs from the SQuAD articles in `split` of the fixed split.

    With `erased`, each question's list also holds its gold sentence with the answer cut out
    (`erase`), labelled 0. With `swapped`, it also holds the gold sentence scored for the
    question with one shared word swapped (`swap`), labelled 0.

    With `near_misses`, each question is also listed against sentences of its article's
    other paragraphs that hold no gold answer, labelled NO_ANSWER: the list the ranker sees
    when the archive has the topic but not the fact."""
    from qa.benchmarks import _read_squad_json, in_split, squad_split

    data = _read_squad_json(Path(path))["data"]
    splits = squad_split([d["title"] for d in data])
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for doc in data:
        if not in_split(doc["title"], split, splits):
            continue
        title = doc["title"].replace("_", " ")
        sentences = []  # (paragraph, start, end, text, terms)
        for p, para in enumerate(doc["paragraphs"]):
            ctx = para["context"]
            for s, e in candidate_spans(ctx):
                sentences.append((p, s, e, ctx[s:e], set(terms(ctx[s:e]))))
        for p, para in enumerate(doc["paragraphs"]):
            own = [x for x in sentences if x[0] == p]
            others = [x for x in sentences if x[0] != p]
            pool = sorted({w for x in others for w in swappable(x[3])}) if swapped else []
            for qa in para["qas"]:
                spans = [(a["answer_start"], a["answer_start"] + len(a["text"])) for a in qa["answers"]]
                q = qa["question"].strip()
                texts = [a["text"].lower() for a in qa["answers"]]
                gold = None  # the first sentence holding a gold answer
                for _, s, e, text, _ in own:
                    label = float(any(s <= a and b <= e for a, b in spans))
                    pairs.append(Pair(q, title, text, label))
                    gold = gold or (text if label else None)
                    if erased and label:
                        a, b = next((a, b) for a, b in spans if s <= a and b <= e)
                        cut = erase(text, a - s, b - s)
                        if cut and not any(t in cut.lower() for t in texts):
                            pairs.append(Pair(q, title, cut, 0.0))
                other = swap(q, gold, [a["text"] for a in qa["answers"]], pool, rng) if swapped and gold else None
                if other:
                    pairs.append(Pair(q, title, gold, 0.0, asked=other))
                qt = set(terms(q))
                hard = sorted(others, key=lambda x: (-len(qt & x[4]), rng.random()))
                pairs += [Pair(q, title, x[3], 0.0) for x in hard[:HARD_NEGATIVES]]
                if near_misses:  # the same question without its paragraph: nothing may win over "no answer"
                    misses = [x for x in hard if not any(t in x[3].lower() for t in texts)][:NEAR_MISS_CANDIDATES]
                    pairs += [Pair(q, title, x[3], NO_ANSWER) for x in misses]
    return pairs


# --news: labelled question sets about fictional news reports join the SQuAD lists: in-domain
# answer sentences. The conflict sets (mostly "how many / how much") and the varied training
# sets written for this (train_news_h6-h13: who, which, where, when, why ...). Not the folders
# the news development questions ask about (heldout2-5, qa.calibrate.NEWS_DEV) nor those
# measured once (heldout14-17).
NEWS_WRITTEN = tuple((f"eval/questions/train_news_h{i}.jsonl", f"eval/conflict_articles_heldout{i}") for i in range(6, 14))
# --news-more: eight more sets by eight writers, mostly about body sentences (train_news_h18-h25);
# not in what ships yet (docs/EVAL.md, "Rule for more written training reports").
NEWS_MORE = tuple((f"eval/questions/train_news_h{i}.jsonl", f"eval/conflict_articles_heldout{i}") for i in range(18, 26))
NEWS_TRAIN = tuple((f"eval/questions/conflicts{s}.jsonl", f"eval/conflict_articles{s}")
                   for s in ("", "_heldout", *(f"_heldout{i}" for i in range(6, 14)))) + NEWS_WRITTEN
NEWS_NEGATIVES = 8  # other sentences of the question's reports in its list, those sharing most terms first
NEWS_REPEAT = 3  # each news list is seen this many times in the epoch (about 550 lists beside 3,076 SQuAD ones); not tuned


def news_pairs(sets: Sequence[tuple[str, str]] = NEWS_TRAIN, seed: int = 0, misses: bool = False) -> list[Pair]:
    """(question, sentence, label) lists from hand-labelled news question sets: each answerable
    question against the sentences of its source reports, a sentence holding a labelled answer
    positive, the NEWS_NEGATIVES others sharing most of the question's terms negative.

    With `misses`, each unanswerable question (a person's near miss or an off-topic question
    about the set's reports) is also listed against the NEWS_NEGATIVES sentences of the set's
    reports sharing most of its terms, labelled NO_ANSWER: "no answer" should win them."""
    from qa.evaluate import load_questions
    from qa.ingest import ingest_paths
    from qa.metrics import answer_contains

    rng = random.Random(seed)

    def nearest(question: str, sents) -> list[tuple[str, str]]:
        """(title, sentence) sorted by terms shared with the question, ties in seeded random order."""
        qt = set(terms(question))
        return sorted(sents, key=lambda x: (-len(qt & set(terms(x[1]))), rng.random()))

    def sentences(reports) -> list[tuple[str, str]]:
        return [(a.title, a.text[s:e]) for a in reports for s, e in candidate_spans(a.text)]

    pairs: list[Pair] = []
    for questions, folder in sets:
        articles = {a.id: a for a in ingest_paths([folder]).articles}
        every = sentences(articles.values()) if misses else []  # an unanswerable question has no sources
        for q in load_questions(questions):
            if q.history:
                continue
            if not q.answerable:
                if misses:
                    pairs += [Pair(q.question, t, x, NO_ANSWER, list_key=f"{questions}#{q.id}")
                              for t, x in nearest(q.question, every)[:NEWS_NEGATIVES]]
                continue
            if not q.answers:
                continue
            sents = sentences(a for src in q.sources if (a := articles.get(src)))
            gold = [x for x in sents if answer_contains(x[1], q.answers)]
            rest = nearest(q.question, [x for x in sents if x not in gold])
            if gold:
                key = f"{questions}#{q.id}"
                pairs += ([Pair(q.question, t, x, 1.0, list_key=key) for t, x in gold]
                          + [Pair(q.question, t, x, 0.0, list_key=key) for t, x in rest[:NEWS_NEGATIVES]])
    return pairs


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def groups(pairs: Sequence[Pair]) -> list[list[Pair]]:
    """Consecutive pairs of one question and kind (squad_pairs emits them together): one
    ranking list each; an answer list without a gold sentence is dropped."""
    out: list[list[Pair]] = []
    for p in pairs:
        last = out[-1][0] if out else None
        if (last and last.question == p.question and (last.list_key or last.title) == (p.list_key or p.title)
                and (last.label == NO_ANSWER) == (p.label == NO_ANSWER)):
            out[-1].append(p)
        else:
            out.append([p])
    return [g for g in out if any(p.label != 0.0 for p in g)]


def train(
    out: Path = DEFAULT_OUT, squad: Path = SQUAD, layers: int = 6, epochs: float = 1.0, batch_size: int = 4,
    lr: float = 3e-5, max_length: int = 128, seed: int = 0, limit: int | None = None, near_misses: bool = False,
    teacher: Path | None = None, bf16: bool = False, erased: bool = False, swapped: bool = False, news: bool = False,
    news_misses: bool = False, answer_token: bool = False, news_more: bool = False, news_repeat: int = NEWS_REPEAT,
) -> dict:
    """Train, save to `out`, return the printed metrics. `batch_size` counts questions.

    With `teacher` (a trained ranker folder), the student starts from the teacher's own first
    `layers` layers and head and learns the teacher's scores over each list as well as the
    gold sentences: meant to give a smaller, faster ranker closer to the teacher than one
    trained from the cut base model. Not so yet: one epoch of 3 layers ranked below two epochs
    of the plain 3-layer model on held-out lists (docs/EVAL.md).

    With `bf16`, forward passes run under CPU autocast (matrix products in bfloat16; weights,
    gradients, optimiser and loss stay fp32): faster on a CPU with native bfloat16."""
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from qa.embed import default_model_path
    from qa.pair_model import SegmentCosine

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    t0 = time.time()
    train_groups = groups(squad_pairs(squad, "dev-train", seed, near_misses=near_misses, erased=erased,
                                           swapped=swapped) + (news_pairs(NEWS_TRAIN + (NEWS_MORE if news_more else ()), seed=seed, misses=news_misses)
                                                * news_repeat if news else []))
    null_score = near_misses or news_misses  # a learned "no answer" score competes in every list
    held = squad_pairs(squad, "dev-calibrate", seed, near_misses=near_misses)
    rng = random.Random(seed)
    rng.shuffle(train_groups)
    if limit:
        train_groups = train_groups[:limit]
        held = [p for g in groups(held)[: max(1, limit // 2)] for p in g]
    print(f"ranking lists: {len(train_groups):,} from the dev-train articles "
          f"({sum(len(g) for g in train_groups):,} candidate sentences); "
          f"{len(held):,} held-out pairs (dev-calibrate)", flush=True)
    base = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    guide = None
    if teacher is not None:
        if null_score:
            raise ValueError("--teacher does not combine with --near-misses or --news-misses (the teacher has no 'no answer' score)")
        if answer_token:
            raise ValueError("--teacher does not combine with --answer-token (the student keeps the teacher's head)")
        guide = SegmentCosine.load(teacher)
        model = SegmentCosine(copy.deepcopy(guide.bert), guide.scale.item())
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]  # the teacher's first `layers` layers
        model.bert.config.num_hidden_layers = layers
    else:
        config = AutoConfig.from_pretrained(base, num_hidden_layers=layers)
        model = SegmentCosine(AutoModel.from_pretrained(base, config=config),  # the first `layers` layers are kept
                              null=NULL_INIT if null_score else None, token=answer_token)
    before = top1(model.eval(), tokenizer, held, max_length)
    print(f"held-out top-1 before training: {before['heldout_top1']}", flush=True)
    model.train()
    body = [p for n, p in model.named_parameters() if n not in ("scale", "null") and not n.startswith("token.")]
    params = [{"params": body, "lr": lr}, {"params": [model.scale], "lr": HEAD_LR}]
    if model.token is not None:
        params.append({"params": list(model.token.parameters()), "lr": HEAD_LR, "weight_decay": 0.0})
    if model.null is not None:
        params.append({"params": [model.null], "lr": NULL_LR, "weight_decay": 0.0})
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    steps = max(1, math.ceil(len(train_groups) * epochs / batch_size))
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))
    order = [i % len(train_groups) for i in range(steps * batch_size)]
    seen = 0.0
    for step in range(steps):
        batch = [train_groups[i] for i in order[step * batch_size:(step + 1) * batch_size]]
        flat = [p for g in batch for p in g]
        enc = tokenizer([p.scored for p in flat], [pair_text(p.title, p.sentence) for p in flat],
                        truncation="only_second", max_length=max_length, padding=True, return_tensors="pt")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            scores = model(**enc).float()
            if guide is not None:
                with torch.no_grad():  # targets only
                    taught = guide(**enc).float()
        # listwise: each question's candidates compete in one softmax; the gold sentences share the target
        loss, at = scores.new_zeros(()), 0
        for g in batch:
            # with near misses, the learned "no answer" score competes in every list: it
            # should lose to a gold sentence and win a near-miss list
            s, gold = scores[at:at + len(g)], torch.tensor([p.label > 0 for p in g])
            if null_score:
                s, gold = torch.cat([s, model.null.view(1)]), torch.cat([gold, torch.tensor([g[0].label == NO_ANSWER])])
            hard = torch.logsumexp(s, 0) - torch.logsumexp(s[gold], 0)
            if guide is None:
                loss = loss + hard
            else:  # the teacher's ranking of the same list, softened
                t = DISTILL_TEMPERATURE
                soft = -(torch.softmax(taught[at:at + len(g)] / t, 0) * torch.log_softmax(s / t, 0)).sum() * t * t
                loss = loss + (1 - DISTILL_WEIGHT) * hard + DISTILL_WEIGHT * soft
            at += len(g)
        loss = loss / len(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        seen = 0.98 * seen + 0.02 * loss.item() if step else loss.item()
        if step % 50 == 0 or step == steps - 1:
            null = f" null {model.null.item():.2f}" if model.null is not None else ""
            print(f"step {step + 1}/{steps} loss {seen:.4f} scale {model.scale.item():.1f}{null} ({time.time() - t0:.0f} s)",
                  flush=True)
    model.eval()
    metrics = {"train_lists": len(train_groups), "near_misses": near_misses, "erased": erased, "swapped": swapped, "news": news,
               "news_misses": news_misses, "news_more": news_more, "news_repeat": news_repeat, "answer_token": answer_token, "layers": layers, "bf16": bf16,
               **({"teacher": str(teacher), "teacher_heldout_top1": top1(guide, tokenizer, held, max_length)["heldout_top1"]}
                  if guide is not None else {}), "epochs": epochs, "seed": seed, "lr": lr,
               "train_seconds": round(time.time() - t0, 1), "heldout_top1_before": before["heldout_top1"]}
    metrics |= top1(model, tokenizer, held, max_length)
    save(model, tokenizer, base, out, metrics)
    print(json.dumps(metrics, indent=2))
    return metrics


def top1(model, tokenizer, pairs: Sequence[Pair], max_length: int) -> dict:
    """On held-out pairs: the share of questions whose best-scored candidate sentence holds
    the answer; with near-miss lists, how often "no answer" wins them and loses answer lists."""
    import torch

    by_q: dict[tuple[str, str, bool], list[tuple[float, float]]] = {}
    with torch.inference_mode():
        for i in range(0, len(pairs), 64):
            batch = pairs[i:i + 64]
            enc = tokenizer([p.scored for p in batch], [pair_text(p.title, p.sentence) for p in batch],
                            truncation="only_second", max_length=max_length, padding=True, return_tensors="pt")
            for p, s in zip(batch, model(**enc).tolist()):
                by_q.setdefault((p.title, p.question, p.label == NO_ANSWER), []).append((s, p.label))
    answerable = [v for (_, _, miss), v in by_q.items() if not miss and any(label for _, label in v)]
    misses = [v for (_, _, miss), v in by_q.items() if miss]
    out = {"heldout_questions": len(answerable),
           "heldout_top1": round(sum(max(v)[1] == 1.0 for v in answerable) / max(1, len(answerable)), 4)}
    if misses:
        null = float(model.null.item())
        out["heldout_answer_beats_null"] = round(sum(max(v)[0] > null for v in answerable) / max(1, len(answerable)), 4)
        out["heldout_near_misses"] = len(misses)
        out["heldout_null_beats_near_miss"] = round(sum(max(v)[0] < null for v in misses) / len(misses), 4)
    return out


def save(model, tokenizer, base: Path, out: Path, metrics: dict) -> None:
    """fp16 safetensors + config + head + tokenizer files + manifest with every file's SHA-256."""
    out.mkdir(parents=True, exist_ok=True)
    model.save(out)
    for name in TOKENIZER_FILES:
        if (base / name).exists():
            shutil.copy(base / name, out / name)
    write_manifest(out, {"ranker": metrics})


def write_manifest(out: Path, metrics: dict) -> dict:
    """manifest.json: the SHA-256 of every file of the model folder (checked on load) and
    the metrics printed by training and calibration (merged with those already there)."""
    path = out / "manifest.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    files = {f.name: sha256(f) for f in sorted(out.iterdir()) if f.is_file() and f.suffix in (".json", ".txt", ".safetensors")
             and f.name not in ("manifest.json",)}
    manifest = {"format": "qa-answer-ranker/1", "base": "sentence-transformers/all-MiniLM-L6-v2",
                "command": "make model", "files": files, "metrics": old.get("metrics", {}) | metrics}
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qa train", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--squad", type=Path, default=SQUAD)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=4, help="questions per step (each with all its candidates)")
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N shuffled questions only (smoke runs)")
    ap.add_argument("--near-misses", action="store_true",
                    help="also train a 'no answer' score on near-miss lists (experimental: not what ships)")
    ap.add_argument("--teacher", type=Path, default=None,
                    help="distil from this trained ranker folder: start from its first --layers layers, learn its scores")
    ap.add_argument("--bf16", action="store_true", help="forward passes in bfloat16 autocast (faster where the CPU has it)")
    ap.add_argument("--erased", action="store_true",
                    help="also list each gold sentence with its answer cut out, as a negative (experimental: not what ships, docs/EVAL.md)")
    ap.add_argument("--swapped", action="store_true",
                    help="also score each gold sentence for its question with one shared word swapped, as a negative "
                         "(experimental: not what ships, docs/EVAL.md)")
    ap.add_argument("--news", action="store_true",
                    help="also train on the labelled news question sets (NEWS_TRAIN; what `make model` ships)")
    ap.add_argument("--news-misses", action="store_true",
                    help="with --news, also train a 'no answer' score on their unanswerable questions (what `make model` ships)")
    ap.add_argument("--news-more", action="store_true",
                    help="with --news, also the sets NEWS_MORE (train_news_h18-h25; experimental: not what ships)")
    ap.add_argument("--news-repeat", type=int, default=NEWS_REPEAT,
                    help=f"with --news, times each news list is seen in the epoch (default {NEWS_REPEAT}, what ships)")
    ap.add_argument("--answer-token", action="store_true",
                    help="add the answer-token read-out to the score (qa/pair_model.py; experimental: not what ships)")
    a = ap.parse_args(argv)
    if a.news_misses and not a.news:
        ap.error("--news-misses adds lists to --news: give both")
    if (a.news_more or a.news_repeat != NEWS_REPEAT) and not a.news:
        ap.error("--news-more and --news-repeat change the lists of --news: give it too")
    if a.news_repeat < 1:
        ap.error("--news-repeat must be at least 1")
    train(a.out, a.squad, a.layers, a.epochs, a.batch_size, a.lr, seed=a.seed, limit=a.limit, near_misses=a.near_misses,
          teacher=a.teacher, bf16=a.bf16, erased=a.erased, swapped=a.swapped, news=a.news, news_misses=a.news_misses,
          answer_token=a.answer_token, news_more=a.news_more, news_repeat=a.news_repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
