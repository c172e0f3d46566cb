import pytest

from qa.language.message import compared, focus, question_parts, social_kind, story_before


def test_a_story_then_a_question_gives_the_question():
    message = "My dad is 70 and has prostate cancer. It spread to his spine last year. What can help the pain?"
    assert question_parts(message) == ["What can help the pain?"]


def test_two_questions_give_two_parts():
    message = "Mum has breast cancer in her bones. What is Xgeva? And how often is it given?"
    assert question_parts(message) == ["What is Xgeva?", "how often is it given?"]


def test_a_question_without_its_mark_is_still_found():
    assert question_parts("I have bone mets. whats the best way to sleep with the pain") == [
        "whats the best way to sleep with the pain"
    ]


def test_one_sentence_or_no_question_keeps_the_whole_message():
    assert question_parts("what is zometa") == ["what is zometa"]
    story = "My wife has bone mets. She is in pain every night."
    assert question_parts(story) == [story]


def test_a_second_question_joined_by_and_is_its_own_part():
    message = "We have an MRI and a PET-CT next week. Roughly how long is the MRI, and how long does the PET scan take?"
    # The second part keeps its "and": it goes on about the first part's subject.
    assert question_parts(message) == ["Roughly how long is the MRI", "and how long does the PET scan take?"]
    message = "The oncologist mentioned denosumab. What does that do and does it have side effects?"
    assert question_parts(message) == ["What does that do", "and does it have side effects?"]


def test_one_sentence_asking_two_things_gives_two_parts():
    assert question_parts("what is a bone scan and does it hurt") == ["what is a bone scan", "and does it hurt"]
    assert question_parts("what is zometa, and how does it work?") == ["what is zometa", "and how does it work?"]
    assert question_parts("is xgeva chemo or is it a hormone") == ["is xgeva chemo", "or is it a hormone"]
    # Not a question, or no second question: whole.
    assert question_parts("I had a bone scan and it hurt") == ["I had a bone scan and it hurt"]
    assert question_parts("can I eat and drink normally") == ["can I eat and drink normally"]


def test_a_joined_part_stands_alone_without_its_and():
    from qa.language.message import standalone

    assert standalone("and  does it hurt?") == "does it hurt?"
    assert standalone("or, is it a hormone") == "is it a hormone"
    assert standalone("android phones?") == "android phones?"


def test_and_before_a_statement_or_a_noun_does_not_cut():
    # "is suddenly" and "do weights" are not questions; a one-sentence message stays whole.
    assert question_parts("She has bone mets. Is it safe to exercise and do weights?") == ["Is it safe to exercise and do weights?"]
    assert question_parts("My wife has mets. Why is she confused and is suddenly so thirsty?") == [
        "Why is she confused and is suddenly so thirsty?"
    ]


def test_the_story_before_the_first_question_is_kept_for_its_subject():
    from qa.language.message import story_before

    message = "Mum is 72. It came back in her spine. The oncologist mentioned denosumab. What does that do?"
    assert story_before(message) == "It came back in her spine. The oncologist mentioned denosumab."
    assert story_before("What is Xgeva? And how often is it given?") == ""


def test_a_story_clause_before_a_comma_and_a_question_is_story():
    from qa.language.message import clauses, story_before

    message = "I'm 67 and on tamoxifen, what is zometa?"
    assert clauses(message) == ["I'm 67 and on tamoxifen", "what is zometa?"]
    assert question_parts(message) == ["what is zometa?"]
    assert story_before(message) == "I'm 67 and on tamoxifen"
    # A clause that asks is not story: the question stays whole.
    for whole in ("Is it safe, what do you think?", "what is zometa?",
                  "I've got mouth ulcers, which is a lot to deal with"):  # "which" opens a relative clause
        assert question_parts(whole) == [whole]
    # In a longer message a question sentence stays whole: its story clause is what it asks about.
    assert question_parts("My mum has mets. Her back hurts at night, is that normal?") == ["Her back hurts at night, is that normal?"]


@pytest.mark.parametrize("message, kind", [
    ("thanks", "thanks"), ("thank you so much, that makes sense", "thanks"), ("thanks for the info!", "thanks"),
    ("ok bye", "farewell"), ("hi", "greeting"), ("hello, can anyone help?", "greeting"), ("good morning everyone", "greeting"),
    ("got it", "agreeing"), ("ok great", "agreeing"),
])
def test_a_message_that_only_thanks_greets_agrees_or_says_goodbye_is_told_apart(message, kind):
    assert social_kind(message) == kind


@pytest.mark.parametrize("message", [
    "thanks, is xgeva chemo?", "ok, why?", "is that ok", "should i take someone with me", "and later on?",
    "hes been out of it all afternoon", "hi, question about radiotherapy", "help my legs are numb", "no",
])
def test_a_message_that_asks_or_tells_anything_is_not_social(message):
    assert social_kind(message) == ""



GRATEFUL = ("Can I just say how grateful I am to this group. When I was told in January it had spread to my pelvis "
            "I thought that was it. Eight months on I am still walking the dog. My question is whether anyone has "
            "tried acupuncture for the tiredness?")


def test_in_a_long_post_only_the_sentences_marked_as_questions_ask():
    # "Can I just say..." opens like a question; in a post that marks its questions, it is story.
    assert question_parts(GRATEFUL)[0].startswith("Can I just say")
    assert question_parts(GRATEFUL, marked=True) == ["My question is whether anyone has tried acupuncture for the tiredness?"]
    assert story_before(GRATEFUL, marked=True).startswith("When I was told in January")
    # A post that marks none keeps the question-form rule.
    unmarked = GRATEFUL.replace("?", ".")
    assert question_parts(unmarked, marked=True) == question_parts(unmarked)


def test_a_long_post_is_read_by_its_story_and_questions():
    assert focus("The nurse mentioned zometa.", ["What is it for?", "and how often?"]) == \
        "The nurse mentioned zometa. What is it for? and how often?"


def test_a_comparison_asks_about_each_thing_it_compares():
    assert question_parts("whats the difference between zometa and xgeva") == ["what is zometa?", "what is xgeva?"]
    assert question_parts("Zometa vs Xgeva?") == ["what is Zometa?", "what is Xgeva?"]
    assert question_parts("zometa versus xgeva for bone mets") == ["what is zometa?", "what is xgeva?"]
    # As typed: the spelling is mended later, for the search.
    assert compared("whats the diffrence between primary bone cancer and metastatic bone cancer") == [
        "what is primary bone cancer?", "what is metastatic bone cancer?"]
    assert compared("is it difficult between chemo and radiotherapy") == ["is it difficult between chemo and radiotherapy"]
    # "systemic and local treatment": both are treatments.
    assert compared("what's the difference between systemic and local treatment") == [
        "what is systemic treatment?", "what is local treatment?"]
    # In a story, as a part among others.
    message = "My mum has cancer in her bones. Whats the difference between a bone scan and an MRI? And does it hurt?"
    assert question_parts(message) == ["what is a bone scan?", "what is an MRI?", "does it hurt?"]


@pytest.mark.parametrize("question", [
    "what is the difference between them",        # no subject of its own: a follow-up
    "is bone mets the same as bone cancer",        # asks whole, and is answered whole
    "what parts of you does graft versus host go for",  # one disease's name, not two things
    "how is xgeva different from zometa",          # the reader reads this whole
])
def test_other_questions_are_not_comparisons(question):
    assert compared(question) == [question]
