"""Sentence-level verification on real sentences from the bundled articles."""

from __future__ import annotations

import numpy as np
import pytest

from qa.verify import Verified, verify_answer

from conftest import ARTICLES

# Passages copied verbatim from data/articles (test_passages_are_real checks that).
PEACE = (
    "Earlier in the day, Russian presidential spokesman Dmitry Peskov said Russia’s relationship with NATO "
    "had reached a red line due to the alliance’s push into Ukraine. The Kremlin spokesman stressed that NATO "
    "is not a dove of peace, but an instrument of confrontation that is approaching the borders of the Russian "
    "Federation."
)
MISSILE = (
    "According to the US and NATO, Russian 9M729 missiles violate the now-defunct INF Treaty. In January 2019, "
    "Russian Ministry of Defense conducted a presentation of the 9M729 missile for all military attaches in "
    "Moscow, showing that these missile comply with the terms of the military agreement."
)
STRENGTH = (
    'On February 11, answering a question regarding INF demise, Stoltenberg said that this step demonstrated '
    'the "strength of NATO."'
)
MEMBERS = (
    "At the same time, the secretary general of the organization noted that the alliance does not agree with the "
    "need to withdraw its military from NATO member countries that joined the organization after 1997."
)
PASSAGES = {1: PEACE, 2: MISSILE, 3: STRENGTH, 4: MEMBERS}


@pytest.fixture(scope="module")
def embed():
    from qa.embed import get_embedder

    return get_embedder("").embed


def test_passages_are_real():
    corpus = " ".join(p.read_text(encoding="utf-8") for p in ARTICLES.iterdir())
    for passage in PASSAGES.values():
        assert passage in corpus


def test_supported_sentence_is_kept(embed):
    v = verify_answer("Dmitry Peskov said Russia's relationship with NATO had reached a red line [1].", PASSAGES, embed)
    assert isinstance(v, Verified)
    assert v.supported
    assert v.kept == ("Dmitry Peskov said Russia's relationship with NATO had reached a red line [1].",)
    assert v.text == v.kept[0]
    assert v.dropped == () and v.removed_markers == ()


def test_wrong_number_is_dropped(embed):
    # The first sentence is supported: the passage's "not" negates "a dove of peace", not
    # "an instrument of confrontation". The second changes the passage's year 1997.
    v = verify_answer(
        "Peskov said NATO is an instrument of confrontation [1]. "
        "NATO will not withdraw from members that joined after 1999 [4].",
        PASSAGES,
        embed,
    )
    assert v.kept == ("Peskov said NATO is an instrument of confrontation [1].",)
    assert v.dropped == (
        ("NATO will not withdraw from members that joined after 1999 [4].", "number '1999' not in passage [4]"),
    )
    assert "1999" not in v.text


def test_right_number_and_loose_date_are_kept(embed):
    # "11 February" against "February 11"; the year 1997 written as in the passage.
    v = verify_answer(
        "On 11 February Stoltenberg said the INF demise demonstrated the strength of NATO [3]. "
        "The alliance will not withdraw its military from members that joined after 1997 [4].",
        PASSAGES,
        embed,
    )
    assert len(v.kept) == 2, v.dropped


def test_wrong_name_is_dropped(embed):
    v = verify_answer("Sergei Lavrov said NATO is an instrument of confrontation [1].", PASSAGES, embed)
    assert not v.supported
    assert v.text == ""
    sentence, reason = v.dropped[0]
    assert sentence.startswith("Sergei Lavrov")
    assert reason == "name 'Sergei' not in passage [1]"


def test_out_of_range_marker_is_removed(embed):
    v = verify_answer("Russian 9M729 missiles violate the INF Treaty [2][9].", PASSAGES, embed)
    assert v.removed_markers == (9,)
    assert v.kept == ("Russian 9M729 missiles violate the INF Treaty [2].",)
    assert "[9]" not in v.text


def test_unmarked_supported_sentence_gets_the_supporting_passage(embed):
    v = verify_answer("The Kremlin spokesman stressed that NATO is not a dove of peace.", PASSAGES, embed)
    assert v.kept == ("The Kremlin spokesman stressed that NATO is not a dove of peace [1].",)


def test_miscited_sentence_moves_to_the_passage_that_supports_it(embed):
    v = verify_answer("Russian 9M729 missiles violate the INF Treaty [1].", PASSAGES, embed)
    assert v.kept == ("Russian 9M729 missiles violate the INF Treaty [2].",)
    assert v.removed_markers == (1,)


def test_all_dropped_means_unsupported(embed):
    v = verify_answer(
        "Joe Biden met Xi Jinping in Beijing [1]. The treaty was signed in 1987 [2]. Paris is lovely.",
        PASSAGES,
        embed,
    )
    assert not v.supported
    assert v.kept == () and v.text == ""
    assert len(v.dropped) == 3
    assert v.dropped[0][1] == "name 'Joe' not in passage [1]"
    assert "1987" in v.dropped[1][1]


def test_low_similarity_is_dropped_when_words_overlap():
    # Same words, opposite meaning is beyond word overlap; a fake embedder that says
    # "unrelated" shows the similarity gate and its reason.
    def orthogonal(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(texts)), dtype=np.float32)
        np.fill_diagonal(out, 1.0)
        return out

    v = verify_answer("Peskov said NATO is an instrument of confrontation [1].", PASSAGES, orthogonal)
    assert not v.supported
    assert v.dropped[0][1].startswith("low similarity 0.00")


def test_real_embedder_rejects_a_contradicting_paraphrase(embed):
    v = verify_answer("The treaty on bananas was praised by farmers in Ukraine [1].", PASSAGES, embed)
    assert not v.supported


def test_marker_after_the_full_stop_belongs_to_the_sentence_before(embed):
    v = verify_answer(
        "Russian 9M729 missiles violate the INF Treaty. [2] NATO is not a dove of peace. [1]", PASSAGES, embed
    )
    assert v.kept == (
        "Russian 9M729 missiles violate the INF Treaty [2].",
        "NATO is not a dove of peace [1].",
    )


def test_without_embedder_words_still_decide():
    v = verify_answer("Russian 9M729 missiles violate the INF Treaty [2]. They are yellow bananas [2].", PASSAGES, None)
    assert v.kept == ("Russian 9M729 missiles violate the INF Treaty [2].",)
    assert v.dropped[0][1].startswith("low word overlap")


def test_iso_date_in_answer_needs_the_written_date():
    v = verify_answer("On 2019-02-11 Stoltenberg spoke of the strength of NATO [3].", PASSAGES, None)
    assert v.dropped and "2019" in v.dropped[0][1]
    ok = verify_answer("Stoltenberg spoke of the strength of NATO on February 11 [3].", PASSAGES, None)
    assert ok.supported


def test_invented_name_is_dropped_even_when_another_passage_names_him(embed):
    # Stoltenberg is in passage [3], but what is said of him comes from Peskov's passage [1]:
    # neither passage alone supports the sentence, so it is not re-attributed to [3].
    v = verify_answer("Stoltenberg said NATO is an instrument of confrontation [1].", PASSAGES, embed)
    assert not v.supported
    assert v.dropped[0][1] == "name 'Stoltenberg' not in passage [1]"


def test_invented_date_is_dropped(embed):
    v = verify_answer("In January 2018 Russia showed the 9M729 missile to military attaches in Moscow [2].", PASSAGES, embed)
    assert not v.supported and "number '2018' not in passage [2]" in v.dropped[0][1]
    ok = verify_answer("In January 2019 Russia showed the 9M729 missile to military attaches in Moscow [2].", PASSAGES, embed)
    assert ok.kept == ("In January 2019 Russia showed the 9M729 missile to military attaches in Moscow [2].",)


@pytest.mark.parametrize("claim", [
    # The passage says NATO is NOT a dove of peace.
    "The Kremlin spokesman stressed that NATO is a dove of peace [1].",
    # The passage says NATO IS an instrument of confrontation.
    "Peskov said NATO is not an instrument of confrontation [1].",
    # The passage says the alliance does NOT agree.
    "The alliance agrees with the need to withdraw its military from countries that joined NATO after 1997 [4].",
])
def test_negation_mismatch_is_dropped(embed, claim):
    v = verify_answer(claim, PASSAGES, embed)
    assert not v.supported, v.kept
    assert v.dropped[0][1].startswith("negation differs from passage")


@pytest.mark.parametrize("claim", [
    "The Kremlin's spokesman said NATO was approaching Russia's borders as an instrument of confrontation [1].",
    "According to Peskov, relations between Russia and NATO have hit a red line because the alliance is pushing into Ukraine [1].",
    "NATO says the 9M729 missile breaks the INF Treaty [2].",
    "The alliance does not agree with pulling its troops out of countries that joined NATO after 1997 [4].",
])
def test_paraphrase_is_kept(embed, claim):
    v = verify_answer(claim, PASSAGES, embed)
    assert v.kept == (claim,), v.dropped


def test_unmarked_paraphrase_is_attributed_to_the_best_passage(embed):
    v = verify_answer("Stoltenberg said the demise of the INF treaty demonstrated the strength of NATO.", PASSAGES, embed)
    assert v.kept == ("Stoltenberg said the demise of the INF treaty demonstrated the strength of NATO [3].",)
    assert v.removed_markers == ()


def test_marker_to_missing_passage_is_removed_and_the_sentence_reattributed(embed):
    v = verify_answer("Peskov said relations with NATO had reached a red line [7].", PASSAGES, embed)
    assert v.removed_markers == (7,)
    assert v.kept == ("Peskov said relations with NATO had reached a red line [1].",)


def test_unfinished_and_repeated_sentences_are_dropped(embed):
    v = verify_answer(
        "Russian 9M729 missiles violate the INF Treaty [2]. Russian 9M729 missiles violate the INF Treaty [2]. "
        "The missile that NATO says violates the INF treaty is:",
        PASSAGES,
        embed,
    )
    assert v.kept == ("Russian 9M729 missiles violate the INF Treaty [2].",)
    assert [r for _, r in v.dropped] == ["repeats an earlier sentence", "unfinished sentence"]
