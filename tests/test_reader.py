"""The reader's contract, what it is shown, how its scores compose the answer,
and the checks that keep a reader with the calibration fitted for it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import FakeEmbedder, FakeReader
from qa.answering.answer import Pick
from qa.answering.compose import compose
from qa.answering.entities import changes_subject, names, names_other
from qa.answering.reader import READER_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_reader, reader_text, reads, save_reader_card
from qa.data import Chunk, Span, Unit
from qa.errors import AnswerModelError
from qa.settings import Settings


def chunk_of(*texts: str, file: str = "a.txt", title: str = "Doc", section: str = "Side effects") -> Chunk:
    units, start = [], 0
    for text in texts:
        units.append(Unit(Span(start, start + len(text)), text))
        start += len(text) + 1
    return Chunk(id=0, doc_id="doc", article_id="doc", file=file, title=title, publisher="Example Clinic", section=section,
                 span=Span(0, start), text=" ".join(texts), units=tuple(units))


def test_the_reader_sees_the_unit_with_its_title_section_and_the_sentence_before():
    chunk = chunk_of("It may come and go at first.", "It is often worse at night.")
    text = reader_text(chunk, chunk.units[1])
    assert text == "It is often worse at night. [SEP] Doc | Side effects | It may come and go at first."
    assert reader_text(chunk, chunk.units[0]).endswith("| Side effects | ")


def picks_of(chunk: Chunk) -> list[Pick]:
    return [Pick(unit, chunk, 0.5, uid) for uid, unit in enumerate(chunk.units)]


def test_the_best_unit_comes_first_and_a_neighbour_the_reader_doubts_stays_out():
    chunk = chunk_of("Pain may come and go.", "Pain is often worse at night.", "Ask about painkillers.", "Rest helps some people.")
    ranked = [picks_of(chunk)[i] for i in (1, 0, 3, 2)]
    chosen = compose(ranked, {1: 4.0, 0: 0.5, 3: 2.0, 2: -3.0}, "is bone pain worse at night", max_units=3, margin=1.0)
    assert [p.unit.text for p in chosen] == ["Pain is often worse at night.", "Rest helps some people."]


def test_a_passage_that_takes_in_its_lead_never_quotes_that_lead_again():
    """Joined to the sentence before it, a passage may open earlier and take in what it
    leans on ("Some people's fertility comes back..." after the treatments that harm it):
    that sentence, chosen as an extra too, was quoted a second time."""
    chunk = chunk_of("Chemotherapy can make it harder to have children.", "The side effects may pass after treatment.",
                     "Ask before treatment starts.", section="Fertility")
    picks = picks_of(chunk)
    chosen = compose([picks[2], picks[0], picks[1]], {2: 4.0, 0: 3.0, 1: 3.0}, "will my fertility come back", max_units=3, margin=1.0)
    assert [p.unit.text for p in chosen] == [chunk.text]  # one passage, each sentence once


def test_units_that_answer_and_stand_side_by_side_are_quoted_as_one_passage_in_reading_order():
    """"Cancer growth ... can press on the spinal cord. This is called spinal
    cord compression." The reader liked the naming sentence best; the one
    before it answers: one passage, verbatim, read in the document's order."""
    chunk = chunk_of("Cancer in the spine can press on the spinal cord.", "This is called spinal cord compression.",
                     "The spinal cord carries nerves.", "Rest helps some people.", section="Spinal cord")
    picks = picks_of(chunk)
    chosen = compose([picks[2], picks[1], picks[3], picks[0]], {2: 4.0, 1: 3.0, 3: 2.0, 0: -5.0},
                     "what is spinal cord compression", max_units=3, margin=1.0)
    first = chosen[0].unit
    # The unit before the best joins it; it points back ("This is..."), so its own lead comes
    # too; the last reads as answering and stands right after: one passage of all four.
    assert first.text == chunk.text
    assert [p.unit.text for p in chosen] == [first.text]
    # Units the reader doubts never join, however close.
    doubted = compose([picks[2], picks[1]], {2: 4.0, 1: -3.0}, "what is spinal cord compression", max_units=3, margin=1.0)
    assert [p.unit.text for p in doubted] == ["The spinal cord carries nerves."]


def test_later_units_that_stand_side_by_side_are_quoted_as_one_passage():
    """The best unit stands apart; two later ones stand together: two quotes, not three."""
    chunk = chunk_of("A fracture can be prevented.", "Walking aids help.", "Your doctor will try to prevent it.",
                     "A metal rod can hold the bone.", "Rest helps some people.", section="Fractures")
    picks = picks_of(chunk)
    chosen = compose([picks[0], picks[3], picks[2]], {0: 4.0, 3: 3.0, 2: 2.0}, "can a fracture be prevented",
                     max_units=3, margin=1.0)
    assert [p.unit.text for p in chosen] == [
        "A fracture can be prevented.", "Your doctor will try to prevent it. A metal rod can hold the bone."]


def test_a_later_unit_that_points_back_is_quoted_with_the_sentence_it_points_to():
    """"These tests are painless." alone does not say which tests: as a second
    unit it comes with the sentence naming them, as a first unit does."""
    chunk = chunk_of("Bone pain is often worse at night.", "Walking aids help.", "Doctors use bone scans and X-rays.",
                     "These tests are painless.", section="Tests")
    picks = picks_of(chunk)
    chosen = compose([picks[0], picks[3]], {0: 4.0, 3: 3.0}, "does a bone scan hurt", max_units=3, margin=1.0)
    assert [p.unit.text for p in chosen] == [
        "Bone pain is often worse at night.", "Doctors use bone scans and X-rays. These tests are painless."]


def test_a_later_unit_s_lead_already_quoted_is_not_quoted_twice():
    """Chunks overlap by a unit: the passage before ends with the sentence the
    later unit points back to, in the chunk before. Quoted once."""
    first = chunk_of("Syringes can hold a mix.", "Most teams mix three at most.", section="Syringe drivers")
    lead, because = first.units[1], "This is because some medicines form crystals."
    tail = Unit(Span(lead.span.end + 1, lead.span.end + 1 + len(because)), because)
    second = Chunk(id=1, doc_id="doc", article_id="doc", file="a.txt", title="Doc", publisher="Example Clinic",
                   section="Syringe drivers", span=Span(lead.span.start, tail.span.end), text=f"{lead.text} {because}",
                   units=(lead, tail))
    chosen = compose([Pick(first.units[0], first, 0.5, 0), Pick(lead, first, 0.5, 1), Pick(tail, second, 0.5, 2)],
                     {0: 4.0, 1: 3.0, 2: 3.0}, "what can go in a syringe driver", max_units=3, margin=1.0)
    quoted = " ".join(p.unit.text for p in chosen)
    assert quoted.count("Most teams mix") == 1 and because in quoted


def test_a_lead_in_without_its_list_is_never_quoted():
    chunk = chunk_of("Often given by IV, they include:", "Cement is injected into the bone.")
    chosen = compose(picks_of(chunk), {0: 5.0, 1: 3.0}, "what do they inject", max_units=3, margin=1.0)
    assert [p.unit.text for p in chosen] == ["Cement is injected into the bone."]


def test_another_drugs_facts_do_not_join_an_answer_about_one_drug():
    chunk = chunk_of("Xgeva can lower the calcium in your blood.", "Bisphosphonates can harm the jaw bone.",
                     "Denosumab is given as an injection under the skin.")
    chosen = compose(picks_of(chunk), {0: 4.0, 1: 3.0, 2: 3.0}, "what are the side effects of xgeva", max_units=3, margin=1.0)
    assert [p.unit.text for p in chosen] == [
        "Xgeva can lower the calcium in your blood.", "Denosumab is given as an injection under the skin."]


def test_a_sentence_that_points_back_is_read_with_the_one_it_points_to():
    """"It's more expensive than bisphosphonates" is about Xgeva, named the
    sentence before: it answers an Xgeva question, first or later."""
    chunk = chunk_of("Denosumab (Xgeva) is injected under the skin.",
                     "It's more expensive than bisphosphonates, so insurers may ask you to try one first.",
                     "Bisphosphonates can harm the jaw bone.", section="Medicines")
    picks = picks_of(chunk)
    chosen = compose([picks[1], picks[2], picks[0]], {1: 4.0, 2: 3.0, 0: 0.5}, "why wont insurance pay for xgeva", max_units=3, margin=1.0)
    # Quoted as one passage with the sentence that names Xgeva.
    assert [p.unit.text for p in chosen][:1] == [f"{chunk.units[0].text} {chunk.units[1].text}"]
    assert chunk.units[2].text not in [p.unit.text for p in chosen]


def test_the_sentence_after_the_best_joins_it_when_it_goes_on_about_it_and_reads_as_answering():
    """"The main result is called creatinine." names what was asked; "It is a
    waste product..." says it: quoted together, verbatim, the answer comes first."""
    chunk = chunk_of("The main result is called creatinine.", "It is a waste product from your muscles.",
                     "Drink plenty of water.", section="Kidney tests")
    picks = picks_of(chunk)
    chosen = compose(picks, {0: 5.0, 1: 3.0, 2: -4.0}, "what is creatinine", max_units=3, margin=-1.0)
    first = chosen[0].unit
    assert first.text == "The main result is called creatinine. It is a waste product from your muscles."
    assert first.text == chunk.text[first.span.start:first.span.end]
    assert len(chosen) == 1  # the follower is not quoted again; the doubted unit stays out
    # The reader doubts the follower: the best unit stands alone.
    doubted = compose(picks, {0: 5.0, 1: -3.0, 2: -4.0}, "what is creatinine", max_units=3, margin=-1.0)
    assert [p.unit.text for p in doubted] == ["The main result is called creatinine."]
    # A next sentence that does not point back joins only when the reader reads it as answering too.
    chosen = compose([picks[1], picks[2], picks[0]], {1: 5.0, 2: 3.0, 0: -4.0}, "what is creatinine", max_units=3, margin=-1.0)
    assert [p.unit.text for p in chosen] == ["It is a waste product from your muscles. Drink plenty of water."]
    chosen = compose([picks[1], picks[2], picks[0]], {1: 5.0, 2: -3.0, 0: -4.0}, "what is creatinine", max_units=3, margin=-1.0)
    assert [p.unit.text for p in chosen] == ["It is a waste product from your muscles."]


def test_a_sentence_opening_with_a_pronoun_is_scored_at_least_near_the_one_it_leans_on():
    """"It is not legally binding" shares no word with the question; the
    sentence before it names the advance statement."""
    import numpy as np

    from qa.answering.compose import leaning_back
    from qa.answering.features import UNIT_FEATURES, Candidate

    chunk = chunk_of("An advance statement records your wishes.", "It is not legally binding.", "Ask your nurse for a form.",
                     "This can take a week.", section="Planning ahead")
    units = chunk.units
    features = (0.0,) * len(UNIT_FEATURES)
    candidates = [Candidate(u, chunk, uid, features, units[uid - 1].text if uid else "") for uid, u in enumerate(units)]
    raised = leaning_back(candidates, np.array([-1.0, -5.0, -6.0, -2.0]), gap=1.0)
    # Raised to the sentence before it, less the gap; one that scores higher alone keeps its own;
    # a sentence that does not open with a pronoun keeps its own.
    assert raised.tolist() == [-1.0, -2.0, -6.0, -2.0]
    # The sentence leant on is not a candidate: nothing to lean on.
    assert leaning_back(candidates[1:], np.array([-5.0, -6.0, -2.0]), gap=1.0).tolist() == [-5.0, -6.0, -2.0]


def test_names_are_families_of_treatments_read_from_the_data_file():
    assert names("is xgeva safe") == {"denosumab"}
    assert names("Zometa is a bisphosphonate given by IV infusion.") == {"bisphosphonate"}  # IV is no treatment
    assert names_other("Bisphosphonates can harm the jaw bone.", names("is xgeva safe"))
    assert not names_other("Bisphosphonates can harm the jaw bone.", names("side effects of zometa"))  # Zometa is one
    assert not names_other("Rest helps some people.", names("is xgeva safe"))  # names nothing: not another drug


def test_a_question_changes_subject_when_it_names_a_drug_or_terms_of_its_own():
    assert changes_subject("what is xgeva", "what is xgeva zometa")  # another treatment family
    assert changes_subject("what causes spinal cord compression?", "what causes spinal cord compression? zometa")
    assert not changes_subject("how often is it given", "how often is it given zometa")  # names none
    assert not changes_subject("is zoledronic acid the same", "is zoledronic acid the same zometa")  # one family
    assert not changes_subject("will i actually feel any better afterwards", "will i actually feel any better afterwards ascitic tap")
    assert not changes_subject("how well does it work compared to freezing eggs", "how well does it work compared to freezing eggs monthly jab ovaries")


def test_a_drug_only_the_story_names_does_not_refuse_a_question_about_another():
    chunk = chunk_of("Zometa is given as an infusion every four weeks.", "Zometa can cause jaw problems.",
                     "Letrozole is a hormone therapy tablet.", section="Medicines")
    picks = picks_of(chunk)
    story = "She has started letrozole. They want to give her an infusion too. What is the infusion for?"
    # Nothing read speaks of letrozole: the story's drug is not what is asked.
    chosen = compose([picks[0], picks[1]], {0: 4.0, 1: 2.0}, story, max_units=3, margin=1.0, text=story)
    assert chosen and chosen[0].unit.text.startswith("Zometa is given")
    # A unit about it was read: the story's drug keeps the others' facts out, as before.
    chosen = compose([picks[0], picks[2]], {0: 4.0, 2: 2.0}, story, max_units=3, margin=1.0, text=story)
    assert [p.unit.text for p in chosen] == ["Letrozole is a hormone therapy tablet."]
    # Named in the question itself, another drug's facts never answer.
    asked = "She has started letrozole. What is letrozole for?"
    assert compose([picks[0], picks[1]], {0: 4.0, 1: 2.0}, asked, max_units=3, margin=1.0, text=asked) == []


def test_the_assistant_answers_with_the_readers_best_unit_first(fake_assistant):
    reader = FakeReader()
    with_reader = fake_assistant.replace(reader=reader)
    answer = with_reader.ask("what are the common side effects of zometa?")
    assert not answer.abstained
    assert reader.calls and len(reader.calls[0][1]) <= fake_assistant.settings.reader_candidates
    best = max(zip(*[reader.calls[0][1], reader.score(*reader.calls[0])]), key=lambda pair: pair[1])[0]
    assert best.split(" [SEP] ")[0] in answer.units[0].text  # with any answering unit beside it, in reading order


def test_without_a_reader_the_answer_model_alone_answers(fake_assistant):
    assert fake_assistant.unit_reader is None  # unit tests never load the shipped reader
    assert not fake_assistant.ask("what are the common side effects of zometa?").abstained


def write_reader(folder: Path, **card) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEIGHTS_FILE).write_bytes(b"not really onnx")
    (folder / TOKENIZER_FILE).write_text("{}", encoding="utf-8")
    save_reader_card(folder, card)
    return folder


def test_a_reader_trained_reading_otherwise_is_refused(tmp_path):
    folder = write_reader(tmp_path / "reader")
    data = json.loads((folder / READER_FILE).read_text())
    data["reads"] = {**reads(), "max_length": 256}
    (folder / READER_FILE).write_text(json.dumps(data))
    with pytest.raises(AnswerModelError, match="qa train-reader"):
        load_reader(folder)


def test_weights_that_are_not_the_ones_the_card_names_are_refused(tmp_path):
    folder = write_reader(tmp_path / "reader")
    assert load_reader(folder).weights_sha256  # the card's own files load
    (folder / WEIGHTS_FILE).write_bytes(b"other weights")
    with pytest.raises(AnswerModelError, match="model.onnx is not the file"):
        load_reader(folder)


def test_a_calibration_fitted_with_another_reader_is_refused(tiny_settings, tmp_path):
    from qa.answering.assistant import Assistant

    folder = write_reader(tmp_path / "reader")
    settings = tiny_settings.with_(use_reader=True, reader_path=folder)
    with pytest.raises(AnswerModelError, match="another reader.*qa calibrate"):
        Assistant.load(settings, embedder=FakeEmbedder())


def test_the_reader_settings_are_checked_and_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("QA_READER", "off")
    assert Settings.from_env().reader_folder() is None
    monkeypatch.setenv("QA_READER", "/some/reader")
    assert Settings.from_env().reader_folder() == Path("/some/reader")
    with pytest.raises(ValueError, match="reader_candidates"):
        Settings(reader_candidates=0)
    with pytest.raises(ValueError, match="reader_blend"):
        Settings(reader_blend=-1.0)


def test_leave_one_document_out_counts_a_copy_of_a_document_as_that_document():
    from types import SimpleNamespace

    from qa.evaluation.lodo import documents

    a = chunk_of("One.", "Two is here.", "Three is there.", file="001_a.txt")
    copy = chunk_of("One.", "Two is here.", "Three is there.", "Extra line.", file="000_a.txt")
    other = chunk_of("Something else entirely.", file="002_b.txt")
    units = {n: (chunk, unit) for n, (chunk, unit) in enumerate((c, u) for c in (a, copy, other) for u in c.units)}
    found = documents(SimpleNamespace(units=units))
    assert found == [("000+001", frozenset({"000_a.txt", "001_a.txt"})), ("002", frozenset({"002_b.txt"}))]


def test_a_student_left_without_a_document_learns_from_a_teacher_left_without_it(tmp_path, monkeypatch):
    import json
    from dataclasses import asdict, replace

    import qa.training.reader as training
    from qa.evaluation.lodo import reader_for
    from qa.training.reader import ReaderConfig

    built = []

    def fake_build(settings, config, data, leaflets, out, leave_out=frozenset(), **_):
        built.append((config, leave_out))
        out.mkdir(parents=True)
        (out / "reader.json").write_text(json.dumps({"config": asdict(config)}))

    monkeypatch.setattr(training, "build_reader", fake_build)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "reader.json").write_text(json.dumps({"config": {**asdict(ReaderConfig(epochs=2)), "retired": 1}}))
    student = replace(ReaderConfig(), layers=3, teacher=str(shipped))
    left_out = frozenset({"003_a.txt"})
    folder = reader_for(None, left_out, tmp_path / "cache", lambda _: None, student)
    (teacher, teacher_files), (taught, taught_files) = built
    assert teacher == ReaderConfig(epochs=2) and teacher_files == taught_files == left_out
    assert taught.layers == 3 and Path(taught.teacher).parent == tmp_path / "cache" and taught.teacher != str(shipped)
    assert reader_for(None, left_out, tmp_path / "cache", lambda _: None, student) == folder and len(built) == 2  # cached
    reader_for(None, frozenset(), tmp_path / "cache", lambda _: None, student)
    assert built[-1][0].teacher == str(shipped)  # nothing left out: the shipped teacher


def test_the_documents_report_gives_each_measure_its_section_and_means():
    from qa.evaluation.lodo import NO_LEAFLETS, report

    row = {"n": 4, "answer accuracy": 0.5, "first-unit accuracy": 0.25, "false abstentions": 0.0, "follow-up accuracy": None}
    figures = {"reader": {"dev": {"001": row, "002": {**row, "answer accuracy": 1.0}}}}
    leaflets = {"reader": {**row, "abstention recall": 1.0, "ECE": 0.1}, NO_LEAFLETS: row}
    five = {"reader, dev": row, f"{NO_LEAFLETS}, test": {**row, "answer accuracy": 0.125}}
    text = report(figures, leaflets, five)
    assert "### reader, dev split" in text and "| mean | 4.000 | 0.750 |" in text
    new_leaflets = text.split("## New leaflets")[1].split("## Without the training leaflets")[0]
    assert f"| {NO_LEAFLETS} | 4 |" in new_leaflets
    ablation = text.split("## Without the training leaflets")[1]
    assert f"| {NO_LEAFLETS}, test | 4 | 0.125 |" in ablation
    assert "## Without the training leaflets" not in report(figures, leaflets)


def test_a_part_of_the_message_the_sources_do_not_answer_is_said_plainly(fake_assistant):
    from qa.apps.chat import render_answer, to_plain

    answer = fake_assistant.ask("What are the side effects of Zometa? Is keytruda an immunotherapy?")
    assert not answer.abstained and "headache" in answer.text
    assert answer.unanswered == ("Is keytruda an immunotherapy?",)
    line = "The sources don't answer this part of your message: “Is keytruda an immunotherapy?”"
    assert line in to_plain(answer) and "keytruda an immunotherapy" in render_answer(answer)
    assert answer.to_json()["unanswered_parts"] == ["Is keytruda an immunotherapy?"]
    assert fake_assistant.ask("What are the side effects of Zometa?").unanswered == ()
    # One sentence asking two things: the part left unanswered is quoted without its "and".
    joined = fake_assistant.ask("What are the side effects of Zometa and what is keytruda?")
    assert "headache" in joined.text and joined.unanswered == ("what is keytruda?",)


def test_a_surer_part_leads_when_the_whole_message_leant_toward_a_part_left_unanswered(fake_assistant, monkeypatch):
    """"How is zometa given? Does it make your hair fall out?": read whole, the
    side effects rank first, pulled by the hair part, which nothing answers;
    the part about giving it, read surer than the whole, leads. Otherwise the
    whole message's best leads, as it sees the story a part read alone does not."""
    given, effects = picks_of(chunk_of("Zometa is given into a vein.", "Side effects include tiredness.", section="Zometa"))
    prepared = fake_assistant.prepare("How is zometa given? Does it make your hair fall out?")
    assert len(prepared.parts) == 2
    sure = fake_assistant.threshold + (1 - fake_assistant.threshold) / 2

    def read(query, text, avoid=frozenset()):
        return ([given], sure, None) if "given" in text else ([effects], 0.0, None)

    monkeypatch.setattr(fake_assistant, "read", read)
    lead = lambda confidence: fake_assistant._each_part(fake_assistant._part_readings(prepared), [effects, given], confidence)[0][0]  # noqa: E731
    assert lead(sure - 0.01) is given
    assert lead(sure) is effects  # the whole as sure as the part
    assert fake_assistant._each_part(fake_assistant._part_readings(prepared), [effects, given], sure - 0.01)[2] == ("Does it make your hair fall out?",)
    monkeypatch.setattr(fake_assistant, "read", lambda query, text, avoid=frozenset(): ([given], sure, None))
    assert lead(sure - 0.01) is effects  # every part answered


def test_a_sentence_naming_no_treatment_speaks_of_the_one_named_before_it():
    """"Possible side effects include ... the jaw" after a bisphosphonate
    sentence is a bisphosphonate's: never an answer about radiotherapy."""
    chunk = chunk_of("Radiation to the bone can ease pain within weeks.",
                     "The usual bisphosphonates are zoledronate and pamidronate.",
                     "Possible side effects include tiredness and damage to the jaw.", section="Treatments")
    picks = picks_of(chunk)
    chosen = compose([picks[2], picks[0]], {2: 4.0, 0: 3.0}, "does radiotherapy for bone pain have side effects", max_units=3, margin=1.0)
    assert [p.unit.text for p in chosen] == [chunk.units[0].text]


def test_it_leans_back_only_on_a_sentence_naming_a_treatment_it_does_not():
    from qa.answering.answer import with_lead

    chunk = chunk_of("It may come and go at first.", "It is often worse at night.")
    night = picks_of(chunk)[1]
    assert with_lead(night) == night  # nothing named before: the answer is read first, alone


def test_the_sentence_before_counts_even_where_the_chunk_cuts_it_off():
    """A chunk may open with "Possible side effects include ..."; the sentence
    before it (another chunk's) still names the bisphosphonates it speaks of.
    When every candidate is another treatment's, nothing is quoted: the
    assistant says the sources don't answer."""
    chunk = chunk_of("Possible side effects include tiredness and damage to the jaw.", section="Treatments")
    jaw = Pick(chunk.units[0], chunk, 0.5, 0, before="The usual bisphosphonates are zoledronate and pamidronate.")
    assert compose([jaw], {0: 4.0}, "does radiotherapy for bone pain have side effects", max_units=3, margin=1.0) == []
    assert compose([jaw], {0: 4.0}, "what are the side effects of zometa", max_units=3, margin=1.0) == [jaw]


def test_every_unit_but_a_sections_first_knows_the_unit_before_it(fake_assistant):
    index = fake_assistant.index
    for chunk, ids in zip(index.chunks, index.unit_ids):
        for earlier, uid in zip(ids, ids[1:]):
            assert index.previous[uid] == earlier
    opening = {ids[0] for ids in index.unit_ids} - set(index.previous)
    assert opening, "some unit opens its section"
    sections = {(c.file, c.section) for c in index.chunks}
    assert len(opening) <= len(sections)  # only a section's first unit has none before it


def test_documents_fall_into_folds_of_about_equal_size_or_one_fold_each():
    from qa.evaluation.lodo import folds_of

    sizes = {"001": 7, "002": 11, "003": 109, "004": 26}
    assert folds_of(sizes, 0) == [["001"], ["002"], ["003"], ["004"]]
    assert folds_of(sizes, 4) == folds_of(sizes, 9) == folds_of(sizes, 0)
    assert folds_of(sizes, 2) == [["003"], ["001", "002", "004"]]
    assert sorted(sum(folds_of(sizes, 3), [])) == sorted(sizes)


def test_a_report_from_folds_says_which_documents_were_left_out_together():
    from qa.evaluation.lodo import report

    row = {"n": 4, "answer accuracy": 0.5, "first-unit accuracy": 0.25, "false abstentions": 0.0, "follow-up accuracy": None}
    figures = {"reader": {"dev": {"001": row, "002": row}}}
    assert "Left out together" in report(figures, together=[["001", "002"]]) and "001, 002" in report(figures, together=[["001", "002"]])
    assert "Left out together" not in report(figures)


class RankedAnswerModel:
    """A stand-in answer model: the candidates' logits as given, a fixed answerability."""

    def __init__(self, logits: list[float]) -> None:
        self.logits = np.array(logits, dtype=float)

    def unit_logits(self, candidates) -> np.ndarray:
        return self.logits[: len(candidates)]

    def answer_logit(self, question, candidates, logits) -> float:
        return 1.0


def test_the_confidence_reads_the_reader_s_score_of_the_unit_shown_first_not_of_one_dropped():
    from qa.answering.compose import read_units
    from qa.answering.features import UNIT_FEATURES, Candidate, Question

    dental = chunk_of("You should see a dentist before starting on a bisphosphonate.", file="a.txt")
    exercise = chunk_of("Talk to your doctor about exercise.", file="b.txt", section="Exercise")
    candidates = [Candidate(c.units[0], c, uid, (0.0,) * len(UNIT_FEATURES)) for uid, c in enumerate((dental, exercise))]
    question = Question("do I need the dentist before starting xgeva", "do I need the dentist before starting xgeva", ())
    reader = FakeReader()  # shares "dentist" and "starting" with the first (1.0), no word with the second (-3.0)
    reading = read_units(RankedAnswerModel([2.0, -3.0]), reader, question, candidates, Settings(reader_blend=3.0))
    # The dental sentence speaks of another treatment than the one asked: dropped.
    assert [p.unit.text for p in reading.picks] == ["Talk to your doctor about exercise."]
    assert reading.best == -3.0  # what the reader thinks of the sentence shown, not of the dropped one (1.0)
    asked_about_bisphosphonates = Question("dentist before starting a bisphosphonate", "dentist before starting a bisphosphonate", ())
    kept = read_units(RankedAnswerModel([2.0, -3.0]), reader, asked_about_bisphosphonates, candidates, Settings(reader_blend=3.0))
    assert kept.picks[0].unit.text.startswith("You should see a dentist") and kept.best == 3.0
