from qa.language.followup import is_followup, resolve


def test_questions_that_lean_back_get_the_earlier_subject():
    assert resolve("what are its side effects?", ["what is zometa?"]) == "what are its side effects? zometa"
    assert "hypercalcemia" in resolve("how is it treated?", ["what is hypercalcemia?"])
    assert "xgeva" in resolve("is it painful?", ["what is xgeva?"])


def test_and_for_asks_the_earlier_question_about_something_new():
    resolved = resolve("and for breast cancer?", ["where does cancer spread in the bones?"])
    assert "spread" in resolved and "breast cancer" in resolved


def test_and_with_a_question_of_its_own_asks_that_about_the_earlier_subject():
    """"and how tight should they be?" is a new question about the trach ties, not
    the earlier one asked again: the two read together were refused."""
    history = ["how often do the trach ties need changing"]
    assert resolve("and how tight should they be", history) == "and how tight should they be trach ties changing"
    # "what about" and a bare noun still ask the earlier question again.
    for again in ("and what about the ones for a baby", "and for a child?"):
        assert resolve(again, history).startswith(history[0])


def test_standalone_questions_are_not_changed_by_history():
    history = ["what is zometa?"]
    for question in ("what are the side effects of xgeva?", "how is spinal cord compression treated?", "what is vertebroplasty?"):
        assert not is_followup(question)
        assert resolve(question, history) == question


def test_chains_of_follow_ups_keep_the_first_subject():
    assert "zometa" in resolve("how often?", ["what is zometa?", "how is it given?"])


def test_no_history_means_no_change():
    assert resolve("what are its side effects?", []) == "what are its side effects?"


def test_a_pronoun_with_nothing_before_it_to_stand_for_leans_back():
    assert "bone cancer" in resolve("can it mess up your sleep", ["what does bone cancer pain feel like?"])
    assert "radiation" in resolve("how long till it starts working", ["can radiation help with the pain from bone mets?"])


def test_it_never_stands_for_a_noun_of_its_own_clause():
    assert "osteonecrosis" in resolve("which drugs can cause it?", ["what is osteonecrosis of the jaw?"])
    assert "frax" in resolve("what goes into it?", ["what is a frax score?"])


def test_a_pronoun_that_stands_for_the_questions_own_subject_does_not():
    for question in ("what is xgeva and how does it work?", "my husband has bone mets and it hurts",
                     "can bone mets make it hard to walk?"):
        assert resolve(question, ["what is zometa?"]) == question


def test_a_follow_up_takes_the_subject_asked_about_not_the_story_around_it():
    resolved = resolve("what are its side effects?", ["I'm 67 and on tamoxifen, what is zometa?"])
    assert resolved == "what are its side effects? zometa"
    # When the asking clause names nothing, the story's subject is all there is.
    assert "breast cancer" in resolve("how long does it take?", ["My mum has breast cancer in her spine, what can help?"])


def test_a_joined_part_of_one_sentence_is_read_with_the_first_parts_subject():
    """"how long does the nephrostomy take and will I have to stay in": the second
    part names "stay", not what it is about; its "and" says it goes on."""
    from qa.language.message import question_parts

    first, second = question_parts("how long does the nephrostomy take and will I have to stay in")
    assert resolve(second, [first]).endswith("nephrostomy")
    assert not is_followup("will I have to stay in")  # without its "and" it would be read alone


def test_and_with_a_question_about_a_thing_of_its_own_is_read_alone():
    """Read with the earlier subject, "and what is keytruda?" finds the earlier
    answer again, which would pass for its answer."""
    history = ["Roughly how long is the MRI"]
    for own in ("and what is keytruda?", "and is immunotherapy an option?"):
        assert not is_followup(own)
        assert resolve(own, history) == own
    # An everyday word, an aspect of the earlier subject, or a word pointing back still leans on it.
    for leaning in ("and will I have to stay in", "and is it noisy", "and how long does the scan take for it",
                    "and how often is the injection given?"):
        assert resolve(leaning, history).endswith("mri"), leaning
