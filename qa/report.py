"""Write an evaluation run to disk: results.jsonl, metrics.json, report.md, report.html, plots.

Why: a number without the answers behind it cannot be checked. The report keeps every
answer next to its score, and the HTML embeds its plots so it can be mailed as one file.
Plots use matplotlib's Agg backend (no display); the PNGs are also saved beside
report.md, which links them.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Sequence

PLOTS = ("accuracy_by_kind.png", "latency.png", "support.png")


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def summary_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of the headline metrics, shared by the text, markdown and HTML."""
    lat = m.get("latency_ms", {})
    rows = [
        ("questions (answerable / unanswerable)", f"{m['n_questions']} ({m['n_answerable']} / {m['n_unanswerable']})"),
        ("answer accuracy (answerable)", _fmt(m["accuracy"]["answerable"])),
    ]
    rows += [(f"  accuracy: {k} (n={v['n']})", _fmt(v["accuracy"])) for k, v in m["accuracy"]["by_kind"].items()]
    rows += [
        ("refusal precision", _fmt(m["refusal"]["precision"])),
        ("refusal recall", _fmt(m["refusal"]["recall"])),
        ("refusal rate (all questions)", _fmt(m["refusal"]["rate"])),
        ("refused, share of answerable", _fmt(m["refusal"].get("answerable_refused_rate"))),
        ("refused, share of unanswerable", _fmt(m["refusal"].get("unanswerable_refused_rate"))),
        (f"citation precision (n={m['citation']['n']})", _fmt(m["citation"]["precision"])),
        ("citation recall", _fmt(m["citation"]["recall"])),
        ("cites a gold source", _fmt(m["citation"]["cites_gold"])),
        ("cites a gold source, share of answerable", _fmt(m["citation"].get("cites_gold_answerable"))),
    ]
    if m.get("short_answer"):  # reports written before short answers were scored have none
        sa = m["short_answer"]
        rows += [("short answer given, share of answered", _fmt(sa["given"])),
                 (f"short answer exact / F1 (n={sa['n']})", f"{_fmt(sa['exact'])} / {_fmt(sa['f1'])}")]
    rows += [(f"retrieval {k}", _fmt(m["retrieval"][k])) for k in ("recall@1", "recall@5", "recall@20", "mrr")]
    rows += [(f"latency {s} p50 / p95 ms", f"{_fmt(v['p50'], 0)} / {_fmt(v['p95'], 0)}") for s, v in lat.items()]
    if m.get("errors"):
        rows.append(("questions rejected with an error", str(m["errors"])))
    return rows


def summary_table(m: dict[str, Any]) -> str:
    """A plain-text table for the terminal."""
    rows = summary_rows(m)
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{label:<{w}}  {value}" for label, value in rows)


def compare_table(runs: Sequence[Any]) -> str:
    """One markdown table, a column per run (label = its config overrides)."""
    cols = [summary_rows(r.metrics) for r in runs]
    labels = [label for label, _ in cols[0]]
    values = [dict(c) for c in cols]
    head = "| metric | " + " | ".join(r.label or f"run {i + 1}" for i, r in enumerate(runs)) + " |"
    lines = [head, "|---" * (len(runs) + 1) + "|"]
    lines += ["| " + label.strip() + " | " + " | ".join(v.get(label, "-") for v in values) + " |" for label in labels]
    return "\n".join(lines)


def write_plots(results: Sequence[dict[str, Any]], metrics: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    kinds = metrics["accuracy"]["by_kind"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(list(kinds), [v["accuracy"] for v in kinds.values()], color="#4C72B0")
    for i, v in enumerate(kinds.values()):
        ax.text(i, v["accuracy"] + 0.02, f"n={v['n']}", ha="center", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share correct")
    ax.set_title("Accuracy by question kind (unanswerable: refused)")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    paths.append(_save(fig, out / PLOTS[0], plt))

    fig, ax = plt.subplots(figsize=(6, 3.2))
    wall = [r["scores"]["wall_ms"] for r in results]
    ax.hist(wall, bins=min(30, max(5, len(wall) // 3)), color="#55A868")
    for q, style in ((50, "--"), (95, ":")):
        v = metrics["latency_ms"]["wall"][f"p{q}"]
        ax.axvline(v, color="k", linestyle=style, label=f"p{q} {v:.0f} ms")
    ax.set_xlabel("time per question (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / PLOTS[1], plt))

    fig, ax = plt.subplots(figsize=(6, 3.2))
    support = [r["scores"]["support_score"] for r in results if r["scores"]["support_score"] is not None]
    lo, hi = (min(support), max(support)) if support else (0.0, 1.0)
    bins = [lo + (hi - lo + 1e-9) * i / 20 for i in range(21)]  # shared bins: the two histograms compare
    for refused, color, label in ((False, "#4C72B0", "answered (top citation)"), (True, "#C44E52", "refused (closest)")):
        vals = [r["scores"]["support_score"] for r in results
                if r["scores"]["refused"] is refused and r["scores"]["support_score"] is not None]
        if vals:
            ax.hist(vals, bins=bins, alpha=0.6, color=color, label=f"{label}, n={len(vals)}")
    ax.set_xlabel("support score")
    ax.set_ylabel("questions")
    ax.set_title("Support scores of answered vs refused questions")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / PLOTS[2], plt))
    return paths


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _markdown(run: Any, title: str) -> str:
    m = run.metrics
    lines = [f"# Evaluation: {title}", "", f"Answer mode: {m.get('mode')}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {label.strip()} | {value} |" for label, value in summary_rows(m)]
    lines += [""] + [f"![{p}]({p})" for p in PLOTS] + ["", "## Wrong answers", ""]
    wrong = [r for r in run.results if not r["scores"]["correct"]]
    if not wrong:
        lines.append("None.")
    for r in wrong:
        res = r["result"]
        got = "(refused)" if res.get("refused") else (res.get("answer") or res.get("error") or "").replace("\n", " ")
        want = "refusal" if not r["answerable"] else " | ".join(r["answers"])
        lines.append(f"- **{r['id']}** ({r['kind']}) {r['question']}  \n  expected: {want}  \n  got: {got[:300]}")
    return "\n".join(lines) + "\n"


def _html(run: Any, title: str, out: Path) -> str:
    m = run.metrics
    rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in summary_rows(m))
    imgs = "".join(
        f'<img alt="{p}" src="data:image/png;base64,{base64.b64encode((out / p).read_bytes()).decode()}">' for p in PLOTS
    )
    qrows = []
    for r in run.results:
        res, s = r["result"], r["scores"]
        got = "(refused)" if res.get("refused") else (res.get("answer") or res.get("error") or "")
        want = "refusal" if not r["answerable"] else " | ".join(r["answers"])
        qrows.append(
            f"<tr class={'ok' if s['correct'] else 'bad'}><td>{html.escape(r['id'])}</td><td>{html.escape(r['kind'])}</td>"
            f"<td>{html.escape(r['question'])}</td><td>{html.escape(want)}</td><td>{html.escape(got)}</td>"
            f"<td>{html.escape(', '.join(s['cited_sources']))}</td><td>{s['wall_ms']:.0f}</td></tr>"
        )
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:3px 6px;vertical-align:top;font-size:13px}tr.bad td:first-child{background:#f6d5d5}"
        "tr.ok td:first-child{background:#d5f0d5}img{max-width:32%;margin:4px}</style></head><body>"
        f"<h1>Evaluation: {html.escape(title)}</h1><p>Answer mode: {html.escape(str(m.get('mode')))}</p>"
        f"<table>{rows}</table><div>{imgs}</div><h2>Questions</h2><table><tr><th>id</th><th>kind</th>"
        f"<th>question</th><th>expected</th><th>answer</th><th>cited</th><th>ms</th></tr>{''.join(qrows)}</table>"
        "</body></html>\n"
    )


def write_report(run: Any, out: str | Path, title: str = "") -> Path:
    """Write every artefact of `run` into `out` (created); returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for r in run.results:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    meta = {"title": title, "label": run.label, "config": run.config}
    (out / "metrics.json").write_text(json.dumps(run.metrics | {"run": meta}, indent=2) + "\n", encoding="utf-8")
    write_plots(run.results, run.metrics, out)
    (out / "report.md").write_text(_markdown(run, title), encoding="utf-8")
    (out / "report.html").write_text(_html(run, title, out), encoding="utf-8")
    return out
