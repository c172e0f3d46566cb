from qa.terms import Vocabulary, analyse, content_words


def test_analyse_drops_question_words_and_stems():
    assert analyse("What are the side-effects?") == ["side", "effect"]
    # Brand names and plain words also count as the sources' words.
    assert analyse("Zometa's side effects") == ["zometa", "zoledron", "side", "effect"]
    assert "pain" in analyse("does it hurt") and "fractur" in analyse("I think it broke")
    assert content_words("is it painful?") == ["painful"]


def test_spelling_is_fixed_towards_corpus_words_only():
    vocab = Vocabulary.from_texts(["Bone metastasis is painful. Xgeva is denosumab."])
    assert vocab.fix_spelling("is metastisis painfull") == "is metastasis painful"
    assert vocab.fix_spelling("what is xgevaa") == "what is xgeva"
    assert vocab.fix_spelling("my husband is worried") == "my husband is worried"  # real English words stay


def test_unknown_subject_words_are_reported():
    vocab = Vocabulary.from_texts(["Cancer that has metastasized to the bone is incurable but treatable. Take the right dose."])
    [(word, zipf)] = vocab.unknown_words("what is the dose of tamoxifen")
    assert word == "tamoxifen" and zipf < 3
    assert vocab.unknown_words("is bone cancer curable") == []  # inside "incurable"
    assert vocab.unknown_words("my mom is worried") == []  # who asks, not what about
