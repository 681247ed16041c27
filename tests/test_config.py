import pytest

from qa.config import Config, load_config
from qa.errors import QAError


def test_precedence_defaults_file_env_flags(tmp_path):
    f = tmp_path / "qa.toml"
    f.write_text('top_k = 7\nanswer_mode = "generative"\n')
    assert load_config(f, env={}).top_k == 7
    assert load_config(f, env={"QA_TOP_K": "9"}).top_k == 9
    assert load_config(f, env={"QA_TOP_K": "9"}, top_k=3).top_k == 3
    assert load_config(env={}).top_k == Config().top_k


def test_unknown_keys_are_named(tmp_path):
    f = tmp_path / "qa.toml"
    f.write_text("topk = 7\n")
    with pytest.raises(QAError, match="unknown config key 'topk'"):
        load_config(f, env={})
    with pytest.raises(QAError, match="unknown config key 'colour'"):
        load_config(env={"QA_COLOUR": "red"})


def test_bad_values_are_explained():
    with pytest.raises(QAError, match="QA_TOP_K='many' is not a int"):
        load_config(env={"QA_TOP_K": "many"})
    with pytest.raises(QAError, match="answer_mode"):
        Config(answer_mode="poetry")
    with pytest.raises(QAError, match="ranker_precision must be one of auto, fp32, bf16, not 'fp16'"):
        Config(ranker_precision="fp16")
    with pytest.raises(QAError, match="chunk_overlap_tokens"):
        Config(chunk_max_tokens=10, chunk_overlap_tokens=10)
