from qa.language.message import question_parts


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
