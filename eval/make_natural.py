"""Write eval/questions/natural.jsonl: the bundled answerable questions as people type them.

Each question of eval/questions/bundled.jsonl that has an answer is rewritten by templates
(polite, wordy, framed, imperative, with a typo, with markup); 300 of the rewrites are
sampled with a fixed seed. Answers, sources and chat history stay those of the original,
whose id each rewrite keeps in `plain_id`, so accuracy can be compared question for
question (tests/test_natural.py; `qa eval eval/questions/natural.jsonl`).

    python eval/make_natural.py            # rewrites eval/questions/natural.jsonl
    python eval/make_natural.py --check    # exit 1 if the committed file differs

Standard library only, deterministic: the same bundled set and seed give the same file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLED = HERE / "questions" / "bundled.jsonl"
OUT = HERE / "questions" / "natural.jsonl"
SIZE = 300
SEED = 0


def _lower_first(q: str) -> str:
    """"Which Russian missile …" -> "which Russian missile …" (a name or acronym keeps its capital)."""
    first = q.split(" ", 1)[0]
    return q if (first.isupper() or first[1:2].isupper()) else q[0].lower() + q[1:]


def _typo(q: str, rng: random.Random) -> str:
    """One adjacent-letter swap in one word of 5+ letters (not a number or code)."""
    spots = [m for m in re.finditer(r"[A-Za-z]{5,}", q)]
    m = rng.choice(spots)
    w = m.group(0)
    i = rng.randrange(1, len(w) - 2)
    return q[:m.start()] + w[:i] + w[i + 1] + w[i] + w[i + 2:] + q[m.end():]


TEMPLATES = {
    "polite": lambda q, rng: rng.choice(["Please, ", "Could you please tell me: ", "Can you tell me "]) + _lower_first(q),
    "wordy": lambda q, rng: rng.choice([
        "Could you please explain to me, in as much detail as you can manage, ",
        "I would really like to know, if you can, ",
        "I was wondering, ",
    ]) + _lower_first(q),
    "framed": lambda q, rng: rng.choice([
        "I'm writing a story - ", "For my article, ", "I'm working on a report for tomorrow's paper: ",
        "Quick question: ",
    ]) + _lower_first(q),
    "imperative": lambda q, rng: rng.choice(["Tell me ", "Please tell me ", "Explain "]) + _lower_first(q).rstrip("?") + ".",
    "typo": lambda q, rng: _typo(q, rng),
    "markup": lambda q, rng: rng.choice(["<b>{}</b>", "**{}**", "<p>{}</p>"]).format(q),
}


def rewrites(rows: list[dict], seed: int = SEED, size: int = SIZE) -> list[dict]:
    """`size` template rewrites of the answerable rows, sampled with `seed`, in a stable order."""
    rng = random.Random(seed)
    pool = []
    for row in rows:
        if not row.get("answerable", True) or not row.get("answers"):
            continue
        for style, template in TEMPLATES.items():
            pool.append((row, style, template(row["question"], rng)))
    picked = sorted(rng.sample(range(len(pool)), min(size, len(pool))))
    out = []
    for n, i in enumerate(picked, 1):
        row, style, question = pool[i]
        out.append({**row, "id": f"n{n:03d}", "plain_id": row["id"], "style": style, "question": question})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only check that the committed file is up to date")
    a = ap.parse_args(argv)
    rows = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rewrites(rows))
    if a.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("natural.jsonl is up to date" if same else "natural.jsonl differs: run python eval/make_natural.py")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10))} questions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
