"""Public benchmarks (SQuAD v1.1, BEIR) as corpora and question sets, and the eval commands.

Why: our own question set is small and written by us; public data that nobody on the
project wrote keeps the numbers honest and comparable with published ones.

Decisions:
- SQuAD: every paragraph is an article (id `<title>#<paragraph index>`, title = the
  Wikipedia title with `_` as spaces), so "retrieved the gold paragraph" is an article
  hit. A sample of N questions is drawn with `random.Random(seed)`; every gold answer is
  acceptable; the question's `sources` is its paragraph. It then runs through the same
  `run_eval` as our own set.
- SQuAD split: `--split test` keeps every paragraph of the file in the index (both halves
  are distractors) but samples questions only from the split's articles (see
  `squad_split`). Without `--split` all questions are sampled, dev half included.
- SQuAD unanswerable: each question is asked against the full index minus every
  paragraph of its own article (same title), so the answer is nowhere but the topic's
  neighbours remain; refusing is the right behaviour. The snapshots reuse the stored
  vectors (nothing is re-embedded), one per article, questions grouped by article.
- BEIR: a corpus document becomes an Article with `title` = its title and `text` = its
  text (the title alone when the text is empty). The index already embeds and
  BM25-indexes every chunk as "<title>. <chunk>", which is the title + text input BEIR's
  own baselines use, so the title is not pasted into the text a second time.
  Chunk hits are aggregated to documents by best rank; a document's run score is derived
  from that rank, so trec_eval's tie-breaking cannot reorder the run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from qa.errors import QAError
from qa.evaluate import EvalRun, Question, article_ranking
from qa.types import Article

if TYPE_CHECKING:  # the index module pulls in numpy and BM25; `qa --help` need not
    from qa.index import Index

BEIR_DOCS = 100  # documents kept per query: recall@100 needs 100


def _read_squad_json(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith(".json")]
                if not names:
                    raise QAError(f"{path} holds no .json file; expected SQuAD's dev-v1.1.json inside")
                raw = z.read(names[0])
        else:
            raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, zipfile.BadZipFile) as e:
        raise QAError(f"cannot read SQuAD file {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise QAError(f"SQuAD file {path} is not valid JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise QAError(f"{path} is not in SQuAD format: expected {{\"data\": [{{\"title\", \"paragraphs\"}}, ...]}}")
    return data


def load_squad(path: str | Path) -> tuple[list[Article], list[Question]]:
    """All paragraphs as articles and all questions (in file order) of a SQuAD v1.1 file."""
    data = _read_squad_json(Path(path))
    articles: list[Article] = []
    questions: list[Question] = []
    for doc in data["data"]:
        title = str(doc.get("title", "untitled"))
        for i, para in enumerate(doc.get("paragraphs", [])):
            context = para.get("context") or ""
            if not context.strip():
                continue
            aid = f"{title}#{i}"
            articles.append(Article(id=aid, title=title.replace("_", " "), text=context))
            for qa in para.get("qas", []):
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", []) if a.get("text")))
                if not answers or not qa.get("question", "").strip():
                    continue
                questions.append(Question(id=str(qa.get("id") or f"{aid}:{len(questions)}"), question=qa["question"].strip(),
                                          answers=answers, sources=(aid,), kind="squad"))
    if not articles or not questions:
        raise QAError(f"{path} holds no SQuAD paragraphs with questions")
    return articles, questions


# The fixed split of SQuAD by article. Titles are ordered by the SHA-256 of their name (no
# seed to forget, the same on every machine) and cut in two halves: "dev" to train and
# tune on, "test" to report on and never tune on. Inside dev, the last CALIBRATION_ARTICLES
# are kept out of ranker training so the answerability model is fitted on questions the
# ranker never saw ("dev-train" / "dev-calibrate").
SQUAD_SPLITS = ("dev", "test", "dev-train", "dev-calibrate")
CALIBRATION_ARTICLES = 6


def squad_split(titles: Sequence[str]) -> dict[str, str]:
    """{title: "dev-train" | "dev-calibrate" | "test"}, a fixed split by article.

    >>> s = squad_split(["a", "b", "c", "d"])
    >>> sorted(s.values()).count("test")
    2
    """
    ordered = sorted(dict.fromkeys(titles), key=lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest())
    half = len(ordered) // 2
    dev, test = ordered[:half], ordered[half:]
    calibrate = set(dev[-CALIBRATION_ARTICLES:]) if len(dev) > 2 * CALIBRATION_ARTICLES else set(dev[len(dev) // 2:])
    out = {t: ("dev-calibrate" if t in calibrate else "dev-train") for t in dev}
    return out | {t: "test" for t in test}


def in_split(title: str, split: str, splits: dict[str, str]) -> bool:
    """Whether `title` belongs to `split` ("dev" covers both dev parts)."""
    part = splits[title]
    return part == split or (split == "dev" and part.startswith("dev"))


def squad_title(article_id: str) -> str:
    """The SQuAD title (as in the file, and as `squad_split` keys it) of a paragraph id.

    >>> squad_title("Super_Bowl_50#12")
    'Super_Bowl_50'
    """
    return article_id.rsplit("#", 1)[0]


def _question_title(q: Question) -> str:
    if not q.sources:
        raise QAError(f"question {q.id!r} names no source paragraph, so its SQuAD article is unknown")
    return squad_title(q.sources[0])


def split_questions(articles: Sequence[Article], questions: Sequence[Question], split: str) -> list[Question]:
    """The questions whose article is in `split` ("dev", "test", "dev-train", "dev-calibrate").

    The split is computed over the titles of every paragraph in `articles`, i.e. the whole
    file, so it is the same split `qa.train` uses.
    """
    if split not in SQUAD_SPLITS:
        raise QAError(f"unknown SQuAD split {split!r}; choose one of {', '.join(SQUAD_SPLITS)}")
    splits = squad_split([squad_title(a.id) for a in articles])
    return [q for q in questions if in_split(_question_title(q), split, splits)]


def without_titles(index: Index, titles: Iterable[str]) -> Index:
    """`index` without every paragraph of these SQuAD titles; nothing is re-embedded."""
    from qa.indexing import remove_articles

    wanted = set(titles)
    gone = [aid for aid in index.articles if squad_title(aid) in wanted]
    missing = wanted - {squad_title(aid) for aid in gone}
    if missing:
        raise QAError(f"no paragraph of SQuAD article {sorted(missing)[0]!r} in the index")
    return remove_articles(index, gone)


def as_unanswerable(q: Question) -> Question:
    """`q` as a question the index cannot answer: refusing it is right."""
    return replace(q, answers=(), sources=(), answerable=False, kind="unanswerable")


def own_article_removed(assistant: Any, questions: Sequence[Question]) -> Iterator[tuple[str, Any, list[int]]]:
    """(title, assistant without that article, positions in `questions` of its questions),
    one per SQuAD article the questions come from, in order of first appearance.

    Each assistant holds a snapshot of `assistant`'s index minus every paragraph of the
    title (stored vectors, BM25 rebuilt; nothing is embedded), built when its turn comes.
    """
    from qa.assistant import Assistant

    full = assistant.index
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        groups.setdefault(_question_title(q), []).append(i)
    for title, members in groups.items():
        yield title, Assistant(assistant.config, without_titles(full, [title]), None), members


def run_unanswerable(assistant: Any, questions: Sequence[Question], mode: str | None = None,
                     progress: bool = True) -> EvalRun:
    """Ask each SQuAD question against `assistant`'s index without its own article.

    Results keep the order of `questions`, each marked unanswerable (`as_unanswerable`)
    and naming its `removed_article`; metrics are over all of them.
    """
    from tqdm import tqdm

    from qa.evaluate import eval_question, eval_run

    results: list[dict[str, Any]] = [{} for _ in questions]
    with tqdm(total=len(questions), desc="eval (own article removed)", unit="q", disable=not progress) as bar:
        for title, without, members in own_article_removed(assistant, questions):
            for i in members:
                results[i] = eval_question(without, as_unanswerable(questions[i]), mode) | {"removed_article": title}
                bar.update()
    return eval_run(assistant, results, mode)


def sample(questions: list[Question], limit: int | None, seed: int) -> list[Question]:
    """`limit` questions drawn with `random.Random(seed)` (all of them, shuffled, when None)."""
    n = len(questions) if limit is None else min(limit, len(questions))
    return random.Random(seed).sample(questions, n)


def load_beir(directory: str | Path, split: str = "test") -> tuple[list[Article], dict[str, str], dict[str, dict[str, int]]]:
    """A BEIR folder as (articles, {query id: text}, qrels) restricted to `split`'s queries."""
    d = Path(directory)
    corpus, queries_file, qrels_file = d / "corpus.jsonl", d / "queries.jsonl", d / "qrels" / f"{split}.tsv"
    for f in (corpus, queries_file, qrels_file):
        if not f.is_file():
            raise QAError(f"{f} is missing; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    articles = []
    for n, obj in _jsonl(corpus):
        title, text = str(obj.get("title") or "").strip(), str(obj.get("text") or "").strip()
        if "_id" not in obj or not (title or text):
            raise QAError(f"{corpus}:{n}: a document needs `_id` and a title or text")
        articles.append(Article(id=str(obj["_id"]), title=title, text=text or title))
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if n == 1 and row and row[0] == "query-id" or not row:
                continue
            try:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
            except (IndexError, ValueError):
                raise QAError(f"{qrels_file}:{n}: expected `query-id<TAB>corpus-id<TAB>score`, got {row!r}") from None
    all_queries = {str(o["_id"]): str(o.get("text", "")) for _, o in _jsonl(queries_file) if "_id" in o}
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise QAError(f"{qrels_file} names {len(missing)} queries not in {queries_file}, e.g. {missing[0]!r}")
    return articles, {q: all_queries[q] for q in qrels}, qrels


def _jsonl(path: Path):
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as e:
                    raise QAError(f"{path}:{n}: not valid JSON ({e.msg})") from None


def beir_run(
    assistant: Any, queries: dict[str, str], docs: int = BEIR_DOCS, method: str | None = None, progress: bool = True
) -> dict[str, dict[str, float]]:
    """{query id: {doc id: score}} with each query's best `docs` documents (best chunk rank)."""
    from tqdm import tqdm

    k = assistant.config.candidates  # the caller sizes candidates so `docs` documents come back
    run = {}
    for qid, text in tqdm(queries.items(), desc=f"search ({method or 'default'})", unit="q", disable=not progress):
        hits = assistant.search(text, k=k, method=method) if method else assistant.search(text, k=k)
        ranked = article_ranking(hits)[:docs]
        run[qid] = {doc: float(len(ranked) - i) for i, doc in enumerate(ranked)}
    return run


# --- CLI handlers (registered by qa.evaluate.register) -----------------------------------

def _out_dir(args: Any, suffix: str = "") -> Path:
    if args.out:
        return Path(args.out)
    import datetime

    return Path("eval") / "runs" / (datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + suffix)


def parse_overrides(spec: str) -> dict[str, Any]:
    """"mode=generative,top_k=3" -> {"answer_mode": "generative", "top_k": 3} (typed by Config)."""
    from dataclasses import fields

    from qa.config import Config

    types = {f.name: f.type for f in fields(Config)}
    out: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        key, eq, value = item.partition("=")
        key = {"mode": "answer_mode"}.get(key.strip(), key.strip())
        if not eq or key not in types:
            raise QAError(f"--compare item {item!r} must be KEY=VALUE with a config key (e.g. top_k=3, mode=generative)")
        try:
            out[key] = int(value) if types[key] == "int" else float(value) if types[key] == "float" else value.strip()
        except ValueError:
            raise QAError(f"--compare item {item!r}: {key} must be a {types[key]}") from None
    return out


def cmd_eval(args: Any, config: Any = None) -> int:
    """`qa eval`: the CLI calls handlers as func(args, config); `args.config` is the same."""
    from qa.assistant import Assistant
    from qa.evaluate import load_questions, run_eval
    from qa.report import compare_table, summary_table, write_report

    cfg = config or args.config
    out = _out_dir(args, "-squad" if args.format == "squad" else "")
    progress = not args.no_progress
    if args.format == "squad":
        if args.compare:
            raise QAError("--compare works with question sets (--format jsonl) only")
        articles, questions = load_squad(args.questions)
        if args.split:
            questions = split_questions(articles, questions, args.split)
        else:
            print("warning: no --split, so questions come from all of SQuAD, including the dev half the answer "
                  "ranker is trained and calibrated on; use --split test for numbers to report", file=sys.stderr)
        questions = sample(questions, args.limit, args.seed)
        split = args.split or "all"
        variant = ", own article removed (unanswerable)" if args.unanswerable else ""
        print(f"SQuAD: {len(articles)} paragraphs indexed, {len(questions)} questions from split {split} "
              f"(seed {args.seed}){variant}; building the index ...")
        assistant = Assistant.from_articles(articles, cfg, progress=progress)
        if args.unanswerable:
            run = run_unanswerable(assistant, questions, mode=args.mode, progress=progress)
        else:
            run = run_eval(assistant, questions, mode=args.mode, progress=progress)
        run.config |= {"squad_file": str(args.questions), "limit": args.limit, "seed": args.seed,
                       "split": split, "unanswerable": args.unanswerable}
        write_report(run, out, title=f"SQuAD v1.1 dev, split {split}, {len(questions)} questions "
                                     f"(seed {args.seed}){variant}")
        print(summary_table(run.metrics))
        print(f"wrote {out}/")
        return 0
    if args.split or args.unanswerable:
        raise QAError("--split and --unanswerable work with --format squad only")
    questions = load_questions(args.questions)[: args.limit]
    if not args.compare:
        run = run_eval(Assistant.open(cfg), questions, mode=args.mode, progress=progress)
        write_report(run, out, title=f"{args.questions} ({len(questions)} questions)")
        print(summary_table(run.metrics))
        print(f"wrote {out}/")
        return 0
    runs = []
    for spec in args.compare:
        over = parse_overrides(spec)
        c = cfg.replace(**over)
        run = run_eval(Assistant.open(c), questions, mode=args.mode if "answer_mode" not in over else None, progress=progress)
        run.label = spec
        label_dir = out / "".join(ch if ch.isalnum() or ch in "=-_." else "_" for ch in spec)
        write_report(run, label_dir, title=f"{args.questions} with {spec}")
        runs.append(run)
    table = compare_table(runs)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    print(f"wrote {out}/")
    return 0


def beir_assistant(articles: list[Article], cfg: Any, index_dir: str | None, progress: bool = True) -> Any:
    """An assistant over a BEIR corpus: in memory, or kept in `index_dir` and reused.

    A kept index is updated like `qa index add`: only new or changed documents are
    embedded, documents no longer in the corpus are removed. It keeps the chunk size it
    was built with; delete the folder after changing `chunk_max_tokens`.
    """
    from qa.assistant import Assistant
    from qa.store import MANIFEST

    if not index_dir:
        return Assistant.from_articles(articles, cfg, progress=progress)
    c = cfg.replace(index_dir=str(index_dir))
    assistant = Assistant.open(c) if (Path(index_dir) / MANIFEST).exists() else Assistant.create(c)
    status = assistant.add_articles(articles)
    for gone in set(assistant.index.articles) - {a.id for a in articles}:
        assistant.remove(gone)
    embedded = sum(v != "unchanged" for v in status.values())
    print(f"index {index_dir}: {embedded} documents embedded, {len(status) - embedded} reused")
    return assistant


def cmd_eval_retrieval(args: Any, config: Any = None) -> int:
    """`qa eval-retrieval`: nDCG@10, recall@100, MRR@10 per split and retriever, one index."""
    from qa.metrics import beir_scores

    base = config or args.config
    splits = list(dict.fromkeys(args.splits))
    loaded = {split: load_beir(args.beir, split) for split in splits}
    articles = loaded[splits[0]][0]
    # A document is several chunks: ask for 3 chunks per wanted document so 100 distinct
    # documents come back (abstracts are 1-4 chunks of 128 tokens).
    cfg = base.replace(candidates=max(base.candidates, 3 * BEIR_DOCS), top_k=3 * BEIR_DOCS)
    methods = list(dict.fromkeys(args.retrievers or [cfg.retriever]))
    progress = not args.no_progress
    print(f"BEIR {Path(args.beir).name}: {len(articles)} documents, splits {', '.join(splits)}; building the index ...")
    assistant = beir_assistant(articles, cfg, args.index_dir, progress=progress)
    result: dict[str, Any] = {"dataset": str(args.beir), "documents": len(articles),
                              "chunks": assistant.index.chunk_count, "candidates": cfg.candidates,
                              "retrieval_config": {k: getattr(cfg, k) for k in
                                                   ("rrf_k", "dense_weight", "bm25_weight", "chunk_max_tokens")},
                              "splits": {}}
    for split in splits:
        _, queries, qrels = loaded[split]
        if args.limit:
            keep = list(queries)[: args.limit]
            queries, qrels = {q: queries[q] for q in keep}, {q: qrels[q] for q in keep}
        result["splits"][split] = {"queries": len(queries), "retrievers": {
            method: beir_scores(qrels, beir_run(assistant, queries, method=method, progress=progress)) for method in methods
        }}
    out = _out_dir(args, "-beir")
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'split':<8}{'retriever':<10}{'nDCG@10':>9}{'recall@100':>12}{'MRR@10':>9}{'queries':>9}")
    for split, r in result["splits"].items():
        for method, s in r["retrievers"].items():
            print(f"{split:<8}{method:<10}{s['ndcg@10']:>9.3f}{s['recall@100']:>12.3f}{s['mrr@10']:>9.3f}{r['queries']:>9}")
    print(f"({result['chunks']} chunks); wrote {out}/metrics.json")
    return 0
