"""The answer ranker's network: one BERT pass over "question [SEP] title | sentence".

Why this head: all-MiniLM-L6-v2 was trained so that mean-pooled token vectors compare by
cosine. Scoring a *joint* pass the same way (the mean of the question's tokens against the
mean of the sentence's tokens, times a learned scale) starts near the bi-encoder's quality
(held-out top-1 0.73 before any training, against 0.76 for the bi-encoder, 400 dev-calibrate
questions) instead of at chance, as a fresh classification head does (0.16 after a whole
epoch in a first run). Fine-tuning then teaches the joint pass the interactions a cosine of
two separate encodings cannot see.

An optional answer-token term (`python -m qa.train --answer-token`) adds the largest of a
linear read-out of the sentence's token vectors: a mean rewards a sentence about the
question's topic, the read-out can mark the one token that is the thing asked for, as a span
reader does. Its weights start at zero, so training starts from the cosine alone.

Imports torch: only `qa.ranker` and `qa.train` import this module, and only when a model
is actually loaded or trained.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

HEAD_FILE = "ranker.json"
HEAD_KIND = "segment-cosine"


def _mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class SegmentCosine(torch.nn.Module):
    """score = scale * cos(mean(question tokens), mean(sentence tokens)) over one joint pass,
    plus, with an answer-token read-out, max over sentence tokens of (w . token + b)."""

    def __init__(self, bert: torch.nn.Module, scale: float = 20.0, null: float | None = None,
                 token: dict | bool | None = None) -> None:
        super().__init__()
        self.bert = bert
        self.scale = torch.nn.Parameter(torch.tensor(float(scale)))
        # the score of "no sentence answers", only in a model trained against near-miss lists
        # (`python -m qa.train --near-misses`); not read at run time yet
        self.null = None if null is None else torch.nn.Parameter(torch.tensor(float(null)))
        # the answer-token read-out: True for a new one (zeros), a saved {"weight", "bias"}, or None
        self.token = None
        if token:
            self.token = torch.nn.Linear(bert.config.hidden_size, 1)
            with torch.no_grad():
                if isinstance(token, dict):
                    self.token.weight.copy_(torch.tensor([token["weight"]], dtype=torch.float32))
                    self.token.bias.fill_(float(token["bias"]))
                else:
                    self.token.weight.zero_()
                    self.token.bias.zero_()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        # segments are told apart by position only: the base model never saw token type 1
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=torch.zeros_like(token_type_ids)).last_hidden_state
        question = _mean(hidden, attention_mask * (token_type_ids == 0))
        sentence = _mean(hidden, attention_mask * (token_type_ids == 1))
        cos = torch.nn.functional.cosine_similarity(question, sentence, dim=-1)
        if self.token is None:
            return self.scale * cos
        in_sentence = (attention_mask * (token_type_ids == 1)).bool()
        marks = self.token(hidden).squeeze(-1).masked_fill(~in_sentence, float("-inf"))
        return self.scale * cos + marks.max(dim=1).values

    def save(self, out: Path) -> None:
        """fp16 safetensors of the encoder (a copy is halved; this module stays as it is), and
        the head in ranker.json."""
        copy.deepcopy(self.bert).half().save_pretrained(out, safe_serialization=True)
        head = {"head": HEAD_KIND, "scale": round(self.scale.item(), 6)}
        if self.null is not None:
            head["null"] = round(self.null.item(), 6)
        if self.token is not None:
            head["token"] = {"weight": [round(w, 7) for w in self.token.weight[0].tolist()], "bias": round(self.token.bias.item(), 7)}
        (out / HEAD_FILE).write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "SegmentCosine":
        from transformers import AutoModel

        head = json.loads((folder / HEAD_FILE).read_text(encoding="utf-8"))
        if head.get("head") != HEAD_KIND:
            raise ValueError(f"unknown ranker head {head.get('head')!r} in {folder / HEAD_FILE}")
        return cls(AutoModel.from_pretrained(str(folder), dtype=torch.float32), float(head["scale"]),
                   head.get("null"), head.get("token")).eval()


__all__ = ["HEAD_FILE", "SegmentCosine"]
