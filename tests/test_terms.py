import pytest

from qa.language.terms import (
    Vocabulary,
    analyse,
    asks_for_figure,
    content_words,
    defined_term,
    run_in_label,
    states_figure,
)


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
    # Slang for what a treatment does is not a term the sources lack: "zap" was
    # reported ("they don't mention zap") and the question refused.
    assert [word for word, _ in vocab.unknown_words("can radiotherapy zap the cancer")] == ["radiotherapy"]
    assert [w for w, _ in vocab.unknown_words("will they nuke it or zapping it")] == []
    # A contraction typed without its apostrophe is a plain word, not a missing term.
    assert [w for w, _ in vocab.unknown_words("is the dose the same for the one whos 9")] == []
    assert [w for w, _ in vocab.unknown_words("wheres the dose, youll know")] == []
    # Nor is one typed with it: "does it mean they've given up" was refused for "theyve".
    assert [w for w, _ in vocab.unknown_words("does the dose mean they've given up, or she'll stop, we'd know")] == []


def test_a_word_the_sources_spell_otherwise_is_known():
    vocab = Vocabulary.from_texts(["Anaemia is a low level of red cells. Oedema is swelling. Treatment can affect fertility."])
    # An American question to a British text: "they don't mention anemia" refused a leaflet on anaemia.
    assert vocab.unknown_words("what does anemia feel like") == []
    assert vocab.unknown_words("is edema a bad sign") == []
    # A negated word is known by its positive, an age or an ordinal is no subject at all.
    assert [w for w, _ in vocab.unknown_words("do i need contraception if im infertile")] == ["contraception"]
    assert [w for w, _ in vocab.unknown_words("my 4yo has swelling after her 3rd cycle")] == ["cycle"]
    assert [w for w, _ in vocab.unknown_words("what does leukaemia feel like")] == ["leukaemia"]  # still unknown


def test_questions_that_ask_for_a_figure_and_texts_that_give_one():
    for question in ("how many sessions will he need?", "what does a bone scan cost", "what percent survive", "how many mg is the dose"):
        assert asks_for_figure(question), question
    for question in ("how much does it hurt?", "what is zometa?", "is it more expensive than zometa?"):
        assert not asks_for_figure(question), question
    assert states_figure("usually five to 10 sessions") and states_figure("It is given once")
    assert not states_figure("Bone scans are painless.")


def test_the_term_a_definition_question_asks_about():
    assert defined_term("what is a dexa scan?") == "dexa scan"
    assert defined_term("whats an SRE") == "sre"
    assert defined_term("what exactly is spinal cord compression") == "spinal cord compression"
    assert defined_term("what does lytic mean on my scan report") == "lytic"
    for question in ("what are the side effects of zometa?", "what is it?", "how is it treated?"):
        assert defined_term(question) is None, question


def test_british_spellings_synonyms_and_bare_contractions_are_known_words():
    from qa.language.terms import Vocabulary, american

    assert american("tumours") == "tumors" and american("anaemia") == "anemia" and american("oestrogen") == "estrogen"
    vocabulary = Vocabulary.from_texts(["Radiation therapy can shrink tumors and treat anemia."])
    assert vocabulary.knows("tumours") and vocabulary.knows("anaemia") and vocabulary.knows("radiotherapy")
    assert not vocabulary.knows("keytruda")
    assert vocabulary.unknown_words("theyve got tumours, is radiotherapy used") == []


def test_painkillers_are_known_by_their_british_american_and_brand_names():
    from qa.language.terms import Vocabulary, analyse

    american = Vocabulary.from_texts(["Over-the-counter medication, like Tylenol or Advil, may be all you need.", "NSAIDs like ibuprofen"])
    assert american.unknown_words("is it ok to take paracetamol or nurofen for the pain") == []
    assert american.knows("acetaminophen") and not american.knows("onc")
    assert Vocabulary.from_texts(["Ask your oncologist."]).knows("onc")
    assert [word for word, _ in american.unknown_words("can i take keytruda")] == ["keytruda"]
    # BM25 and term overlap: a British question meets an American text, and the other way round.
    assert set(analyse("can i take paracetamol")) & set(analyse("like Tylenol"))
    assert set(analyse("is acetaminophen safe")) & set(analyse("take paracetamol every four hours"))
    assert set(analyse("nurofen")) & set(analyse("Advil or Motrin"))


def test_a_rare_name_the_documents_give_otherwise_is_read_as_theirs_a_common_word_stays():
    from qa.language.terms import Vocabulary

    british = Vocabulary.from_texts(["Paracetamol is usually a better choice than ibuprofen during chemotherapy."])
    assert british.fix_spelling("is tylenol ok, or nurofen?") == "is paracetamol ok, or ibuprofen?"
    assert british.fix_spelling("is chemo hard") == "is chemo hard"  # a common word, as typed
    assert british.fix_spelling("is paracetamol ok") == "is paracetamol ok"  # the documents' own word


def test_the_word_lists_are_read_from_their_data_file():
    import json
    from pathlib import Path

    import qa.language.terms as terms

    data = json.loads((Path(terms.__file__).with_name("data") / "words.json").read_text(encoding="utf-8"))
    for name in ("stop_words", "aspect_words", "people_words", "sentence_openers", "thanks_words", "farewell_words",
                 "greeting_words", "agreeing_words", "social_filler_words"):
        listed = data[name]["words"]
        assert data[name]["why"] and listed == sorted(set(listed)) and all(w == w.lower().strip() for w in listed), name
    assert terms.STOP_WORDS == frozenset(data["stop_words"]["words"]) | frozenset(data["text_speak"]["pairs"])
    assert "whos" in terms.STOP_WORDS and "iz" in terms.STOP_WORDS
    assert terms.SYNONYMS["xgeva"] == "denosumab" and all(k == k.lower() for k in terms.SYNONYMS)
    names = [w for group in data["other_names"]["groups"] for w in group]
    assert data["other_names"]["why"] and len(names) == len(set(names)) and all(w == w.lower().strip() for w in names)
    assert terms.OTHER_NAMES["nurofen"] == ("advil", "ibuprofen", "motrin")
    # Each text-message spelling stands for a stop word: written out, it still names no subject.
    assert data["text_speak"]["why"] and all(k == k.lower() and v in terms.STOP_WORDS for k, v in terms.TEXT_SPEAK.items())


def test_a_long_misspelt_word_inflected_otherwise_is_fixed_by_its_stem():
    vocab = Vocabulary.from_texts(["A pathologic fracture happens in weakened bone."])
    assert vocab.fix_spelling("what is a pathalogical fracture") == "what is a pathologic fracture"
    assert vocab.fix_spelling("is it pathetic") == "is it pathetic"  # an English word is meant as written
    assert vocab.correct("patholgy") is None  # short words: one edit of a whole corpus word only


def test_text_message_spellings_are_written_out_as_whole_words_only():
    vocabulary = Vocabulary.from_texts(["Xgeva is denosumab. Zometa is a bisphosphonate. Take vitamin B before food."])
    assert vocabulary.fix_spelling("wat iz xgeva, can u tell me") == "what is xgeva, can you tell me"
    assert vocabulary.fix_spelling("R bone mets curable? Thx") == "are bone mets curable? thanks"
    # Inside a word, a number or a name they stay: "b4" is before, "vitamin b" and "u-turn" are not text speak.
    assert vocabulary.fix_spelling("take it b4 food, not the vitamin b or a u-turn") == "take it before food, not the vitamin b or a u-turn"
    assert vocabulary.fix_spelling("who treats it at u of m") == "who treats it at u of m"  # the University of Michigan
    assert vocabulary.unknown_words("wat iz zometa") == []


@pytest.mark.parametrize("text, label", [
    ("Spinal cord compression When cancer spreads to the bones of the spine, it can squeeze the cord.", "Spinal cord compression"),
    ("Radiation Radiation therapy, which uses high-energy rays, can shrink a tumour.", "Radiation"),
    ("Extreme thirst, loss of appetite, and sluggishness These are signs of high calcium.", "Extreme thirst, loss of appetite, and sluggishness"),
])
def test_a_list_items_label_run_into_its_sentence_is_found(text, label):
    assert text[:run_in_label(text)] == label


@pytest.mark.parametrize("text", [
    "Bone pain. This is often the first symptom.",  # the label kept its stop
    "Signs That Breast Cancer Has Spread",  # a title, not a label and a sentence
    'Children often ask "Are you going to die?" There is no single right answer.',
    "It may come and go at first. When it comes back, call.",
])
def test_sentences_and_titles_have_no_run_in_label(text):
    assert run_in_label(text) == 0
