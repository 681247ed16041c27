"""The `qa` command: index, search, ask, timeline, eval.

Every subcommand that touches an index takes `--index DIR` and `--config FILE`; flags
override the config file and `QA_*` environment variables. Errors a user can fix print one
line (`error: ...`) and exit with status 2; nothing here loads a model before it is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from qa.config import Config, load_config
from qa.errors import QAError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", dest="index_dir", help="index folder (default: index/, or index_dir in the config)")
    p.add_argument("--config", dest="config_file", help="TOML config file (default: qa.toml if present)")


def _ray(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="read, chunk and embed on a Ray cluster: HOST:PORT of its head node, 'auto', or nothing "
                        "to start Ray on this machine (needs pip install -e \".[ray]\"; docs/SCALING.md)")


def _ray_options(args: argparse.Namespace, config: Config):
    """RayOptions for `--ray`, or None: the module is light, Ray itself loads only in the build."""
    if args.ray is None:
        return None
    from qa.ray_build import RayOptions

    return RayOptions.of(config, address=args.ray)


def _ray_advice(embedded: int, args: argparse.Namespace, config: Config) -> None:
    if args.ray is not None:
        from qa.ray_build import advice

        note = advice(embedded, _ray_options(args, config))
        if note:
            print(note)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", "--top-k", dest="top_k", type=int, help="number of passages")
    p.add_argument("--date-from", help="only articles dated on or after YYYY-MM-DD")
    p.add_argument("--date-to", help="only articles dated on or before YYYY-MM-DD")
    p.add_argument("--publisher", action="append", default=[], help="only this publisher (repeatable)")
    p.add_argument("--article", action="append", default=[], help="only this article id (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Grounded, cited answers from a collection of news articles.")
    sub = parser.add_subparsers(dest="command", required=True)

    index = sub.add_parser("index", help="build and maintain the index").add_subparsers(dest="action", required=True)
    p = index.add_parser("build", help="index articles from scratch (replaces the index; a killed build resumes when rerun)")
    p.add_argument("paths", nargs="*", default=["data/articles"], help="files or folders (default: data/articles)")
    p.add_argument("--model", dest="embedding_model", help="embedding model: Hugging Face id or local folder")
    _ray(p)
    _common(p)
    p.set_defaults(func=cmd_index_build)
    p = index.add_parser("add", help="add new or changed articles (only those are embedded)")
    p.add_argument("paths", nargs="+")
    _ray(p)
    _common(p)
    p.set_defaults(func=cmd_index_add)
    p = index.add_parser("remove", help="remove an article by id")
    p.add_argument("article_id")
    _common(p)
    p.set_defaults(func=cmd_index_remove)
    p = index.add_parser("optimize", help="merge all segments into one and drop deleted articles")
    _common(p)
    p.set_defaults(func=cmd_index_optimize)
    p = index.add_parser("stats", help="articles, chunks, model and dimension")
    p.add_argument("--json", action="store_true")
    p.add_argument("--list", action="store_true", help="also list the articles")
    _common(p)
    p.set_defaults(func=cmd_index_stats)

    p = sub.add_parser("search", help="hybrid search: the passages that match a query")
    p.add_argument("query")
    p.add_argument("--retriever", choices=["hybrid", "dense", "bm25"])
    _filters(p)
    _common(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question from the articles, with citations")
    p.add_argument("question")
    p.add_argument("--history-file", help="JSON list of earlier user questions in this chat")
    p.add_argument("--mode", choices=["extractive", "generative"], dest="answer_mode")
    _filters(p)
    _common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("timeline", help="the dated claims about a topic, in date order, each cited")
    p.add_argument("topic", help='what the timeline is about, e.g. "the INF Treaty"')
    _filters(p)
    _common(p)
    p.set_defaults(func=cmd_timeline, history_file=None, question=None)

    try:
        from qa import evaluate
    except ImportError:  # the evaluation harness is optional at import time
        evaluate = None
    if evaluate is not None and hasattr(evaluate, "register"):
        evaluate.register(sub)
        for name in ("eval", "eval-retrieval"):
            if name in sub.choices:
                _common_if_missing(sub.choices[name])
    return parser


def _common_if_missing(p: argparse.ArgumentParser) -> None:
    have = {a.dest for a in p._actions}
    if "index_dir" not in have:
        p.add_argument("--index", dest="index_dir", help=argparse.SUPPRESS)
    if "config_file" not in have:
        p.add_argument("--config", dest="config_file", help="TOML config file")


def _config(args: argparse.Namespace) -> Config:
    keys = ("index_dir", "embedding_model", "top_k", "answer_mode", "retriever")
    return load_config(getattr(args, "config_file", None), **{k: getattr(args, k, None) for k in keys})


def _print_outcomes(outcomes) -> int:
    for o in outcomes:
        ids = f" ({', '.join(o.article_ids)})" if o.article_ids and len(o.article_ids) <= 3 else (
            f" ({len(o.article_ids)} articles)" if o.article_ids else "")
        msg = f": {o.message}" if o.message else ""
        print(f"{o.status:>9}  {o.path}{ids}{msg}")
    return sum(o.status == "rejected" for o in outcomes)


def cmd_index_build(args: argparse.Namespace, config: Config) -> int:
    from qa.assistant import Assistant

    assistant, outcomes = Assistant.build(config, args.paths, progress=True, ray=_ray_options(args, config))
    rejected = _print_outcomes(outcomes)
    if not assistant.index.articles:
        raise QAError(f"no article could be read from {', '.join(args.paths)}; nothing was indexed")
    print(f"embedded {assistant.embedded} chunks; {assistant.reused} reused a vector already computed")
    _print_stats(assistant.stats())
    _ray_advice(assistant.embedded, args, config)
    return 1 if rejected and not assistant.index.articles else 0


def cmd_index_add(args: argparse.Namespace, config: Config) -> int:
    from qa.assistant import Assistant

    ray = _ray_options(args, config)  # a bad address fails before the index or any model loads
    assistant = Assistant.open(config)
    _print_outcomes(assistant.add_paths(args.paths, progress=True, ray=ray))
    _print_stats(assistant.stats())
    _ray_advice(assistant.embedded, args, config)
    return 0


def cmd_index_remove(args: argparse.Namespace, config: Config) -> int:
    from qa.assistant import Assistant

    assistant = Assistant.open(config)
    assistant.remove(args.article_id)
    print(f"removed {args.article_id}")
    _print_stats(assistant.stats())
    return 0


def cmd_index_optimize(args: argparse.Namespace, config: Config) -> int:
    from qa.assistant import Assistant

    assistant = Assistant.open(config)
    before, after = assistant.optimize()
    print(f"segments: {before} -> {after}")
    _print_stats(assistant.stats())
    return 0


def _print_stats(stats: dict) -> None:
    print(
        f"index {stats['index_dir']}: {stats['articles']} articles, {stats['chunks']} chunks in {stats['segments']} "
        f"segment{'s' if stats['segments'] != 1 else ''}, "
        f"model {stats['model']} ({stats['dim']} dims{', ' + stats['embedding_backend'] if stats.get('embedding_backend') else ''}), "
        f"chunks of <= {stats['chunker']['max_tokens']} tokens"
    )


def cmd_index_stats(args: argparse.Namespace, config: Config) -> int:
    from qa.assistant import Assistant

    assistant = Assistant.open(config)
    stats = assistant.stats()
    if args.list:
        stats["article_list"] = assistant.articles()
    if args.json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
        return 0
    _print_stats(stats)
    for a in stats.get("article_list", []):
        print(f"  {a['id']}  {a['date'] or '----------'}  {(a['publisher'] or '-'):<16} {a['chunks']:>3} chunks  {a['title'][:60]}")
    return 0


def _filters_from(args: argparse.Namespace):
    from qa.types import Filters

    from qa.clean import normalise_date

    dates = {}
    for name in ("date_from", "date_to"):
        raw = getattr(args, name, None)
        if raw:
            dates[name] = normalise_date(raw)
            if dates[name] is None:
                raise QAError(f"--{name.replace('_', '-')} {raw!r} is not a date; use YYYY-MM-DD")
    return Filters(publishers=tuple(args.publisher), article_ids=tuple(args.article), **dates)


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from qa.assistant import Assistant

    assistant = Assistant.open(config)
    hits = assistant.search(args.query, k=args.top_k, filters=_filters_from(args), method=args.retriever)
    if args.json:
        print(json.dumps({"query": args.query, "hits": [h.to_dict() for h in hits]}, indent=2, ensure_ascii=False))
        return 0
    for rank, h in enumerate(hits, 1):
        print(f"{rank:>2}. {h.chunk.article_id}  [{h.chunk.start}:{h.chunk.end}]  score {h.score:.4f}  {h.article.title[:60]}")
        print(f"    {h.chunk.text[:200]}{'…' if len(h.chunk.text) > 200 else ''}")
    if not hits:
        print("no passage matches")
    return 0


def _read_history(path: str | None) -> list[str]:
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise QAError(f"--history-file {path}: {e}; it must be a JSON list of earlier questions") from None
    if not isinstance(data, list) or not all(isinstance(q, str) for q in data):
        raise QAError(f"--history-file {path} must hold a JSON list of strings (earlier questions)")
    return data


def cmd_timeline(args: argparse.Namespace, config: Config) -> int:
    """`qa timeline TOPIC`: the question "Timeline of TOPIC" (qa/phrasing.py reads it as one)."""
    args.question = f"Timeline of {args.topic.strip()}" if args.topic.strip() else ""
    return cmd_ask(args, config)


def cmd_ask(args: argparse.Namespace, config: Config) -> int:
    from qa.answering import validate_question
    from qa.assistant import Assistant

    validate_question(args.question, config)  # before the index or any model loads
    history = _read_history(args.history_file)
    assistant = Assistant.open(config)
    answer = assistant.ask(args.question, history=history, filters=_filters_from(args), top_k=args.top_k)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    if answer.search_query != answer.question:
        print(f"Searched for: {answer.search_query}\n")
    print(answer.text)
    listed = answer.closest if answer.refused else answer.citations
    if listed:
        print("\nClosest passages:" if answer.refused else "\nSources:")
    for c in listed:
        meta = ", ".join(x for x in (c.publisher, c.date) if x)
        print(f"  [{c.n}] {c.source}  {c.title[:70]}{f' ({meta})' if meta else ''}")
        print(f"      “{c.quote[:240]}{'…' if len(c.quote) > 240 else ''}”")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
        args.config = config
        return int(args.func(args, config) or 0)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
