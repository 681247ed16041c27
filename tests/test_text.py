from qa.text import has_date, names, numbers, split_sentences, terms


def test_sentences_respect_abbreviations_datelines_and_lines():
    t = 'BRUSSELS, February 12. /TASS/. NATO met Mr. Smith on Jan. 5. "We agree," he said.\nNext line here'
    got = [t[a:b] for a, b in split_sentences(t)]
    assert got == ["BRUSSELS, February 12. /TASS/.", "NATO met Mr. Smith on Jan. 5.", '"We agree," he said.', "Next line here"]


def test_sentence_spans_are_offsets_into_the_text():
    t = "  One sentence here.   Two sentences there!  "
    spans = split_sentences(t)
    assert [t[a:b] for a, b in spans] == ["One sentence here.", "Two sentences there!"]
    assert split_sentences(t, 20) == [(23, 43)]


def test_terms_stem_and_drop_stopwords():
    assert terms("The missiles violate the INF Treaty") == terms("missile violated INF treaties")
    assert "9m729" in terms("the 9M729 missile")
    assert terms("SSC-8") == ["ssc8", "ssc", "8"]


def test_numbers_dates_names():
    assert numbers("In 2019, 1,000 troops and 9 ships") == {"2019", "1000", "9"}
    assert has_date("on Wednesday") and has_date("in August 2019") and not has_date("the missile system")
    assert has_date("on Sept. 9") and has_date("since Jan 2020")
    assert not has_date("The mayor marched with the Mondayne family")  # months and weekdays only as whole words


def test_may_and_march_as_everyday_words_name_no_date():
    # "it may also have to cover" made a news sentence count as a date for "When ...?" questions
    assert not has_date("The council may also have to cover a large share of Halvorsen's costs.")
    assert not has_date("Thousands joined the march to the square.") and not has_date("Rain could mar the final.")
    assert has_date("The ruling was handed down in May.") and has_date("Talks resumed on March 3.")
    assert has_date("May 6 was the first day of the strike.") and not has_date("May NATO expand?")
    assert "Stoltenberg" in names("Jens Stoltenberg said") and "said" not in names("Jens Stoltenberg said")
