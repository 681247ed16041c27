"""Wire copies: the same story from two outlets is one passage citing both."""

from dataclasses import replace

import pytest

from qa.types import Article
from qa.wire import article_groups, shingles

TASS = "003_c804dac4115a1700.txt"


def gazeta_copy(original: Article) -> Article:
    """003 as another outlet runs it: a new headline, one sentence edited, its own name."""
    text = original.text.replace("NATO Secretary-General Jens Stoltenberg said Wednesday",
                                 "the alliance's chief Jens Stoltenberg told reporters on Wednesday", 1)
    assert text != original.text
    return replace(original, id="gazeta_003_copy.txt", title="Stoltenberg: NATO does not want an arms race",
                   publisher="Gazeta.ru", text=text)


def test_a_copy_is_grouped_and_different_stories_are_not(assistant):
    articles = dict(assistant.index.articles)
    assert article_groups(articles) == {}  # the five bundled articles are five stories
    copy = gazeta_copy(articles[TASS])
    articles[copy.id] = copy
    assert article_groups(articles) == {TASS: (TASS, copy.id), copy.id: (TASS, copy.id)}
    assert len(shingles(copy.text) & shingles(articles[TASS].text)) / len(shingles(copy.text) | shingles(articles[TASS].text)) > 0.8


@pytest.fixture
def with_copy(index_copy):
    from qa.assistant import Assistant
    from qa.config import Config

    a = Assistant.open(Config(index_dir=str(index_copy)))
    a.add_articles([gazeta_copy(a.index.articles[TASS])])
    return a


def test_a_wire_copy_is_cited_as_one_passage_with_both_outlets(with_copy):
    hits = with_copy.search("Which missile violates the INF treaty?", k=10)
    assert len({h.article.id for h in hits} & {TASS, "gazeta_003_copy.txt"}) == 1  # one passage per story
    ans = with_copy.ask("Which missile violates the INF treaty?", mode="extractive")
    assert not ans.refused and "9M729" in ans.text
    cited = [c for c in ans.citations if c.source in (TASS, "gazeta_003_copy.txt")]
    assert len(cited) == 1
    other = {TASS: "gazeta_003_copy.txt", "gazeta_003_copy.txt": TASS}[cited[0].source]
    assert [o["source"] for o in cited[0].also_in] == [other]
    assert "also in Gazeta.ru" in ans.text or "also in TASS" in ans.text
    corpus = {a["id"]: a for a in with_copy.articles()}
    assert corpus["gazeta_003_copy.txt"]["same_story"] == [TASS]


def test_banded_lsh_groups_every_family_of_copies_and_nothing_else():
    """40 stories of 200 words, each run by 1-4 more outlets with one word changed (5-shingle
    Jaccard ~0.9 between two members: LSH misses such a pair about once in a million), next
    to 40 stories with no copy: the groups are exactly the families, each named by its
    first member in archive order."""
    import random

    from qa.wire import signatures, wire_groups

    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(5000)]
    ids, texts, family = [], [], {}
    for story in range(80):
        words = [rng.choice(vocab) for _ in range(200)]
        copies = rng.randint(1, 4) if story < 40 else 0
        for c in range(copies + 1):
            edited = list(words)
            if c:
                edited[rng.randrange(5, 195)] = rng.choice(vocab)
            ids.append(f"s{story}-{c}.txt")
            texts.append(" ".join(edited))
            family.setdefault(story, []).append(ids[-1])
    order = list(range(len(ids)))
    rng.shuffle(order)  # copies are not next to each other in the archive
    ids, texts = [ids[i] for i in order], [texts[i] for i in order]
    groups = wire_groups(ids, signatures(texts))
    expected = {}
    for members in family.values():
        if len(members) > 1:
            named = tuple(sorted(members, key=ids.index))
            expected.update({m: named for m in named})
    assert groups == expected
