"""The shipped answer-sentence ranker: loaded by checksum, right on real article sentences,
and a refusal once the answering article is gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Config
from qa.errors import QAError
from qa.metrics import answer_contains
from qa.ranker import (BUNDLED_RANKER, Candidate, CrossEncoderRanker, candidate_spans, load_calibration, native_bf16,
                       resolve_precision, verify_manifest)
from qa.train import TOKENIZER_FILES

ARTICLES = Path(__file__).resolve().parent.parent / "data" / "articles"
BUNDLED = Path(__file__).resolve().parent.parent / "eval" / "questions" / "bundled.jsonl"


def article_sentences(name: str) -> list[str]:
    text = (ARTICLES / name).read_text(encoding="utf-8")
    return [text[s:e] for s, e in candidate_spans(text)]


def candidates_of(sentences: list[str]) -> list[Candidate]:
    return [Candidate(0, 0, len(s), s) for s in sentences]


def test_the_shipped_model_matches_its_manifest():
    manifest = verify_manifest(BUNDLED_RANKER)
    assert {"model.safetensors", "calibration.json", "config.json", "ranker.json"} <= set(manifest["files"])
    assert (BUNDLED_RANKER / "model.safetensors").stat().st_size < 50 * 1024 * 1024
    assert manifest["metrics"]["ranker"]["heldout_top1"] > manifest["metrics"]["ranker"]["heldout_top1_before"]
    cal = load_calibration("")
    assert 0.0 < cal.threshold < 1.0 and "ranker" in cal.sentence.features


def test_a_corrupt_or_missing_model_file_is_a_clear_error(tmp_path):
    copy = tmp_path / "ranker"
    shutil.copytree(BUNDLED_RANKER, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(QAError, match="checksum.*make model"):
        CrossEncoderRanker(copy).score("Who met?", candidates_of(["NATO met Russia in Geneva today."]))
    weights.unlink()
    with pytest.raises(QAError, match="missing.*make model"):
        verify_manifest(copy)


@pytest.fixture(scope="module")
def ranker():
    """The ranker as users run it: the default precision ("auto": bf16 on these machines)."""
    return CrossEncoderRanker(BUNDLED_RANKER, precision=Config().ranker_precision)


@pytest.fixture(scope="module")
def fp32_ranker():
    return CrossEncoderRanker(BUNDLED_RANKER, precision="fp32")


# Hand-checked: every sentence of the article competes; the one that answers must win.
@pytest.mark.parametrize("question, article, expected", [
    ("Which Canadian television channel interviewed Stoltenberg about arms reduction?", "001_a8a96078134d5575.txt", "CBC"),
    ("Who described NATO as an instrument of confrontation approaching Russia's borders?", "001_a8a96078134d5575.txt",
     "Kremlin spokesman"),
    ("When did the Russian and US delegations meet in Geneva?", "001_a8a96078134d5575.txt", "January 10"),
    ("Besides dangerous, how did Stoltenberg describe a new arms race?", "003_c804dac4115a1700.txt", "expensive"),
    ("Which US Deputy Secretary of State attended the meeting at NATO Headquarters in Brussels?", "002_fe4bbc8259d23a58.txt",
     "Wendy Sherman"),
])
def test_the_right_sentence_ranks_first(ranker, question, article, expected):
    sentences = article_sentences(article)
    scores = ranker.score(question, candidates_of(sentences))
    assert expected in sentences[int(scores.argmax())], (question, sentences[int(scores.argmax())])


def test_the_ranker_beats_embedding_similarity_on_the_bundled_questions(ranker, assistant):
    """Over every single-source answerable bundled question, choosing among all sentences of
    its article: the trained ranker's best sentence holds the answer more often than the
    most similar sentence's does (65 vs 54 of 74 when the model shipped)."""
    ranked = similar = n = 0
    for line in BUNDLED.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if not q["answerable"] or len(q["sources"]) != 1:
            continue
        sentences = article_sentences(q["sources"][0])
        if not any(answer_contains(s, q["answers"]) for s in sentences):
            continue
        by_ranker = ranker.score(q["question"], candidates_of(sentences))
        by_similarity = np.asarray(assistant.retriever.similarity(q["question"], sentences))
        ranked += answer_contains(sentences[int(by_ranker.argmax())], q["answers"])
        similar += answer_contains(sentences[int(by_similarity.argmax())], q["answers"])
        n += 1
    assert n >= 60
    assert ranked >= similar + 5, (ranked, similar, n)


def test_a_question_is_refused_when_its_article_is_removed(bundled_index_dir, tmp_path):
    from qa.assistant import Assistant

    directory = tmp_path / "index"
    shutil.copytree(bundled_index_dir, directory)
    assistant = Assistant.open(Config(index_dir=str(directory), answer_ranker=""))
    question = "Which Canadian television channel interviewed Stoltenberg about arms reduction?"
    answered = assistant.ask(question)
    assert not answered.refused and answered.citations[0].source == "001_a8a96078134d5575.txt", answered.text
    assistant.remove("001_a8a96078134d5575.txt")
    refused = assistant.ask(question)
    assert refused.refused, refused.text


def test_batching_by_length_gives_the_scores_of_one_padded_batch(fp32_ranker):
    import torch

    from qa.ranker import pair_text

    sentences = article_sentences("003_c804dac4115a1700.txt")[:11]  # more than two batches, lengths differ
    question = "What did Stoltenberg say about the INF Treaty?"
    got = fp32_ranker.score(question, candidates_of(sentences))
    tokenizer, model = fp32_ranker._load()
    enc = tokenizer([question] * len(sentences), [pair_text("", s) for s in sentences], truncation="only_second",
                    max_length=fp32_ranker.max_length, padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = model(**enc).float().numpy()
    assert np.allclose(got, want, atol=1e-4) and len(set(np.round(got, 3))) > 1


def test_bf16_ranks_like_fp32_on_real_sentences(fp32_ranker):
    """bf16 autocast (what "auto" picks on a CPU with native bfloat16) moves the logits (about
    20 apart at most) by a few hundredths, and never changes which sentence wins here."""
    bf16 = CrossEncoderRanker(BUNDLED_RANKER, precision="bf16")
    for question, article in [("Which Canadian television channel interviewed Stoltenberg about arms reduction?",
                                "001_a8a96078134d5575.txt"),
                               ("What did Stoltenberg say about the INF Treaty?", "003_c804dac4115a1700.txt")]:
        cands = candidates_of(article_sentences(article))
        want, got = fp32_ranker.score(question, cands), bf16.score(question, cands)
        assert not np.array_equal(got, want)  # it really computed in bf16
        assert np.abs(got - want).max() < 0.15 and got.argmax() == want.argmax()
        assert np.corrcoef(got, want)[0, 1] > 0.999


def test_auto_precision_is_bf16_only_where_the_cpu_has_it(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse avx2 avx512f avx512bw avx512_vnni\n")
    assert not native_bf16(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert native_bf16(cpuinfo)
    assert not native_bf16(tmp_path / "missing")
    assert resolve_precision("auto") == ("bf16" if native_bf16() else "fp32")
    assert resolve_precision("fp32") == "fp32"
    with pytest.raises(QAError, match="ranker_precision"):
        resolve_precision("int4")


def test_an_answer_token_read_out_starts_at_the_cosine_and_survives_save_and_load(fp32_ranker, tmp_path):
    """`python -m qa.train --answer-token` adds max over the sentence's tokens of a linear
    read-out. Started at zero it scores exactly as the cosine alone; trained weights are saved
    in ranker.json and read back."""
    import torch

    from qa.pair_model import SegmentCosine
    from qa.ranker import pair_text

    tokenizer, shipped = fp32_ranker._load()
    sentences = article_sentences("001_a8a96078134d5575.txt")[:5]
    question = "Which Canadian television channel interviewed Stoltenberg?"
    enc = tokenizer([question] * len(sentences), [pair_text("", s) for s in sentences], truncation="only_second",
                    max_length=128, padding=True, return_tensors="pt")
    fresh = SegmentCosine(shipped.bert, shipped.scale.item(), token=True).eval()
    with torch.inference_mode():
        assert torch.equal(fresh(**enc), shipped(**enc))
        fresh.token.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
        trained = fresh(**enc)
    assert not torch.allclose(trained, shipped(**enc))
    fresh.save(tmp_path)
    for name in TOKENIZER_FILES:
        shutil.copy(BUNDLED_RANKER / name, tmp_path / name)
    assert "token" in json.loads((tmp_path / "ranker.json").read_text())
    again = CrossEncoderRanker(tmp_path, precision="fp32").score(question, candidates_of(sentences))
    assert np.allclose(again, trained.numpy(), atol=1e-4)
