"""The assistant wires the stages: prepare (qa.language.question) -> retrieve
-> read (features, answer model, the cross-encoder reader: qa.answering.compose) -> policy (confidence, abstention, urgent
advice) -> cited answer.

    >>> assistant = Assistant.load()
    >>> answer = assistant.ask("what are its side effects?", history=["what is zometa?"])
    >>> print(answer.text)

`__init__` only stores its parts; `load` reads them from disk and warms up.
Training and evaluation swap a part with `replace(answer_model=...)`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from qa.answering.answer import AnswerModel, Pick, load_answer_model
from qa.answering.calibration import CALIBRATION_FILE, RAW, Calibration, familiar_documents, load_calibration
from qa.answering.citations import cite
from qa.answering.compose import read_units
from qa.answering.entities import changes_subject
from qa.answering.features import Reader, describe
from qa.answering.memory import Memory, load_memory
from qa.answering.policy import SOCIAL_REPLIES, asks_about_outlook, each_part, find_support, why_not
from qa.answering.reader import UnitReader, load_reader
from qa.answering.retrieve import Retriever
from qa.answering.safety import DISCLAIMER, Advice, advice_for, advice_in_each_file, answer_topics, best_advice, within
from qa.answering.triage import ADVICE_TOPIC, SURE, TOPICS, RuleTriage, Triage, assess_turn, load_triage
from qa.data import Answer, AnswerUnit, Citation, Passage
from qa.errors import AnswerModelError, IndexNotFoundError, StaleIndexError
from qa.files import check_manifest
from qa.index.store import Index, build_index, load_index
from qa.language.followup import resolve, with_subject
from qa.language.question import Prepared, Preparer
from qa.language.terms import Vocabulary, asks_for_figure, topic_words
from qa.settings import Settings


class Assistant:
    """Answers questions from the index; one instance serves many questions."""

    def __init__(
        self,
        index: Index,
        embedder,
        settings: Settings,
        *,
        answer_model: AnswerModel,
        calibration: Calibration,
        memory: Memory,
        triage=None,
        highlighter=None,
        reader: UnitReader | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        # A unit's blend of reader and answer model: the setting, else the one `qa calibrate` chose for this reader.
        self.settings = settings if settings.reader_blend is not None else settings.with_(reader_blend=calibration.reader_blend)
        self.answer_model = answer_model
        self.calibration = calibration
        self.highlighter = highlighter
        # The cross-encoder that reads the question with the best candidates; None: the answer model alone.
        self.unit_reader = reader
        # The trained triage step (qa.answering.triage); the rules alone stand in without one.
        self.triage = RuleTriage() if triage is None else triage
        self.retriever = Retriever(index, settings)
        self.reader = Reader(index, memory)
        # Recent queries' vectors and passages, and recent turns' reading on their own: a follow-up
        # reuses its previous turn's (the units it was answered with) instead of searching and reading it again. Bounded.
        size = settings.turn_cache
        self.embed = lru_cache(maxsize=size)(self._embed)
        self.retrieve = lru_cache(maxsize=size)(self._retrieve)
        self._first_reading = lru_cache(maxsize=size)(self._read_alone)

    @classmethod
    def load(
        cls, settings: Settings | None = None, embedder=None, progress: bool = False, triage: bool = True, calibrated: bool = True,
    ) -> "Assistant":
        """Load the index (building it first if it is missing or stale) and the
        answer model, calibration, memory and triage beside the model, and the
        reader; then warm up. `triage=False` uses the urgent-sign rules instead
        (to train triage); `calibrated=False` accepts a calibration fitted with
        another reader, or none yet (to train the reader or refit it)."""
        from qa.index.embed import Embedder

        settings = Settings.from_env() if settings is None else settings
        folder = settings.answer_model()
        if calibrated:  # serving: every model file as its manifest lists it (refitting rewrites them), before any work
            check_manifest(folder, required=(folder / "embedder.json").is_file())
        embedder = Embedder(settings.embedding_model(), threads=settings.threads) if embedder is None else embedder
        try:
            index = load_index(settings, embedder)
        except (IndexNotFoundError, StaleIndexError):
            build_index(settings, embedder, progress=progress)
            index = load_index(settings, embedder)
        highlighter = None
        if settings.highlight_model_path is not None:
            from qa.answering.highlight import Highlighter

            highlighter = Highlighter(settings.highlight_model_path)
        if calibrated or (folder / CALIBRATION_FILE).is_file():
            calibration = load_calibration(folder)
        else:  # just trained (`qa train` writes none): what is trained next or refitted reads the raw scores
            calibration = RAW
        reader = None
        if settings.reader_folder() is not None:
            reader = load_reader(settings.reader_folder(), settings.threads)
            if calibrated and calibration.reader_sha256 != reader.weights_sha256:
                raise AnswerModelError(
                    f"{folder / 'calibration.json'} was fitted with another reader than {settings.reader_folder()}: refit it with `qa calibrate`"
                )
        assistant = cls(
            index, embedder, settings, answer_model=load_answer_model(folder), calibration=calibration,
            memory=load_memory(folder) if settings.question_memory else Memory.empty(index.unit_vectors.shape[1]),
            highlighter=highlighter, reader=reader,
            triage=load_triage(folder, index.unit_vectors.shape[1], fingerprint=embedder.fingerprint) if triage else None,
        )
        assistant.warm_up()
        return assistant

    def replace(self, **parts) -> "Assistant":
        """A new assistant with some parts swapped (settings, answer_model,
        calibration, memory, index, embedder, highlighter), the rest shared."""
        current = {
            "index": self.index, "embedder": self.embedder, "settings": self.settings, "answer_model": self.answer_model,
            "calibration": self.calibration, "memory": self.reader.memory, "highlighter": self.highlighter,
            "triage": self.triage, "reader": self.unit_reader,
        }
        unknown = set(parts) - set(current)
        if unknown:
            raise TypeError(f"Assistant has no part named {', '.join(sorted(unknown))}")
        current.update(parts)
        index, embedder, settings = current.pop("index"), current.pop("embedder"), current.pop("settings")
        return Assistant(index, embedder, settings, **current)

    def forget(self) -> None:
        """Drop every kept turn: the next question is answered as a new user's
        would be (the benchmark times questions this way)."""
        for cache in (self.embed, self.retrieve, self._first_reading, self.preparer.turn):
            cache.cache_clear()

    def warm_up(self) -> None:
        """Do the one-off work (model, BM25, word lists) before the first user waits."""
        self.ask("what is bone metastasis?")
        self.suggest(self.embedder.encode_query("passport"))

    @property
    def threshold(self) -> float:
        """Below this confidence the assistant abstains: the setting, else the calibrated one."""
        return self.calibration.threshold if self.settings.abstain_below is None else self.settings.abstain_below

    @cached_property
    def familiar(self) -> frozenset[str]:
        """The documents the models were trained on: their answers' confidence is shown as fitted on dev."""
        return familiar_documents(self.index.chunks, self.calibration)

    @cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.from_texts([f"{c.title} {c.section} {c.text}" for c in self.index.chunks])

    @cached_property
    def preparer(self) -> Preparer:
        return Preparer(self.vocabulary, followups=self.settings.followups, cache_size=self.settings.turn_cache,
                        long_words=self.settings.long_message_words)

    @cached_property
    def advice(self) -> dict[str, Advice]:
        return best_advice(self.advice_by_file)

    @cached_property
    def advice_by_file(self) -> dict[str, dict[str, Advice]]:
        return advice_in_each_file(self.index.chunks)

    @cached_property
    def support(self) -> tuple[Advice, ...]:
        return find_support(self.index.chunks)

    @cached_property
    def suggestions(self) -> tuple[list[str], object]:
        """Questions the sources answer (a curated list), with their vectors."""
        path = Path(__file__).with_name("suggested_questions.txt")
        questions = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return questions, self.embedder.encode(questions)

    def suggest(self, vector, n: int = 3) -> tuple[str, ...]:
        """The n suggested questions closest in meaning to a question."""
        questions, vectors = self.suggestions
        order = (vectors @ vector).argsort()[::-1][:n]
        return tuple(questions[i] for i in order)

    def prepare(self, question: str, history=()) -> Prepared:
        """The question prepared once for every stage (see qa.language.question)."""
        return self.preparer.prepare(question, history)

    def _embed(self, query: str) -> np.ndarray:
        vector = np.asarray(self.embedder.encode_query(query))
        vector.setflags(write=False)  # shared through the cache
        return vector

    def _retrieve(self, query: str, k: int) -> tuple[np.ndarray, tuple[Passage, ...]]:
        """(query vector, passages): the vector comes with them, so a query is embedded once."""
        vector = self.embed(query)
        return vector, tuple(self.retriever.search(query, vector, k))

    def candidates(self, text: str, query: str, avoid: frozenset[int] = frozenset(), vector=None):
        """(question, candidate units, query vector) for a prepared query; `vector`
        when the caller embedded the query already (training embeds in batches)."""
        if vector is None:
            vector, found = self.retrieve(query, self.settings.top_k)
            passages = list(found)
        else:
            passages = self.retriever.search(query, vector, self.settings.top_k)
        sims = self.reader.memory.similarities(vector)  # once: both the question and its units read them
        question = describe(text, query, self.vocabulary, self.reader.memory.nearest(sims))
        return question, self.reader.candidates(query, passages, vector, avoid, sims), vector

    def read(self, query: str, text: str, avoid: frozenset[int] = frozenset()) -> tuple[list[Pick], float, np.ndarray]:
        """(answer picks, confidence, query vector) for a prepared query."""
        question, candidates, vector = self.candidates(text, query, avoid)
        reading = read_units(self.answer_model, self.unit_reader, question, candidates, self.settings)
        return reading.picks, self.calibration.probability(reading.raw, reading.best), vector

    def _read_alone(self, query: str, text: str) -> tuple[tuple[Pick, ...], float, np.ndarray]:
        picks, confidence, vector = self.read(query, text)
        return tuple(picks), confidence, vector  # kept in the cache: nothing there may change it

    def previous_answer(self, prepared: Prepared) -> frozenset[int]:
        """The units the latest earlier question is answered with, read on its own
        as its own turn read it (so a chat finds that reading in the turn cache)."""
        earlier = prepared.earlier
        if not earlier:
            return frozenset()
        query = resolve(earlier[-1], earlier[:-1])
        return frozenset(p.uid for p in self._first_reading(query, prepared.last_text or earlier[-1])[0])

    def assess(self, prepared: Prepared, vector: np.ndarray) -> Triage:
        """Urgent signs happening now (or a message ago), and urgent topics only touched, in this turn."""
        return assess_turn(self.triage, self.embed, prepared, vector)

    def search(self, question: str, history=(), k: int | None = None) -> list[Passage]:
        """The passages retrieval finds for a question (what `ask` reads from)."""
        return list(self.retrieve(self.prepare(question, history).query, self.settings.top_k if k is None else k)[1])

    def ask(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Answer:
        """Answer one question; `history` holds the user's earlier questions, oldest first."""
        prepared = self.prepare(question, history)
        if not prepared.usable:
            return self._abstain(question, prepared.text, prepared.problem, confidence=0.0, usable=False)
        if prepared.social:
            return self._social(question, prepared)
        text = prepared.text
        resolved, picks, confidence, vector = self._read_message(prepared)
        triage = self.assess(prepared, vector if resolved == prepared.query else self.embed(prepared.query))  # as trained
        urgent = [ADVICE_TOPIC[t] for t in triage.urgent]
        touched = [ADVICE_TOPIC[t] for t in triage.topics]
        readings = self._part_readings(prepared) if len(prepared.parts) > 1 or prepared.focus else ()  # read once, used twice
        picks, confidence, unanswered = self._each_part(readings, picks, confidence) if len(readings) > 1 else (picks, confidence, ())
        if prepared.focus:  # a long post: as sure as the surest of its questions read as short ones (as calibrated)
            confidence = min(confidence, max(reading[2] for reading in readings))
        if not picks or confidence < self.threshold:
            # Triage is more sure than not of an urgent sign: the sources' urgent-care
            # advice answers it, even when no other passage fits well. Below that
            # (its thresholds are set for recall, so they are low) the advice is
            # still shown, above the refusal. A figure the sources lack ("what
            # percent walk again after...") is refused, with the advice beside it.
            sure = [ADVICE_TOPIC[t] for t, chance in zip(TOPICS, triage.chance) if t in triage.urgent and chance >= SURE]
            if any(topic in self.advice for topic in sure) and not asks_for_figure(text):
                return self._answer(question, resolved, [], confidence, urgent, [])
            message = why_not(describe(prepared.asked, prepared.asked, self.vocabulary), picks, self.settings.rare_term_zipf)
            asked = prepared.parts if prepared.focus else ()  # a long post: the questions found in it, shown
            return self._abstain(question, resolved, message, confidence, urgent, self.suggest(vector), touched=touched, unanswered=asked)
        # An answer about an urgent topic brings the advice as a calm note, not the red box.
        touched += [t for t in answer_topics([p.unit.text for p in picks]) if t not in touched]
        answer = self._answer(question, resolved, picks, confidence, urgent, [t for t in touched if t not in urgent])
        return replace(answer, unanswered=unanswered) if unanswered else answer

    def _read_message(self, prepared: Prepared):
        """(resolved question, picks, confidence, vector) for the message as a whole."""
        # A follow-up should add to the last answer, not repeat it.
        avoid = self.previous_answer(prepared) if prepared.is_followup else frozenset()
        resolved, text = (prepared.focus, prepared.focus) if prepared.focus else (prepared.query, prepared.text)
        if avoid:
            picks, confidence, vector = self.read(resolved, text, avoid)
        else:  # read as a later follow-up will look it up (`previous_answer`): once
            kept, confidence, vector = self._first_reading(resolved, text)
            picks = list(kept)
        if self.settings.followups and prepared.earlier and not prepared.is_followup:
            # It names a subject yet may lean back ("can i put them in my pill box?", a quarter
            # of unseen leaflets' follow-ups): read it with the conversation's subject too, and
            # keep that reading when sure enough, unless the question turns to a subject of its own
            # ("what is xgeva?" after zometa), where it must be the surer reading.
            leaning = with_subject(resolved, prepared.earlier)
            if leaning != resolved:
                retry = self.read(leaning, text, self.previous_answer(prepared))
                if retry[1] >= self.threshold and (retry[1] > confidence or not changes_subject(resolved, leaning)):
                    return (leaning, *retry)
        if confidence < self.threshold and len(prepared.parts) == 1 and prepared.parts[0] != prepared.text \
                and not topic_words(prepared.story):
            # Words around one question that name no topic ("I'm 67. What is zometa?") can drown it:
            # read alone, it may be answered. A story that names one stays ("I have lymphoedema. Can
            # radiotherapy help?", "forgot my tablet yesterday, should i double up"): it is what they ask about.
            part = self.preparer.part(prepared.parts[0], prepared.earlier)
            retry = self.read(part.query, part.text)
            if retry[1] >= self.threshold:
                return (part.query, *retry)
        return resolved, picks, confidence, vector

    def _social(self, question: str, prepared: Prepared) -> Answer:
        """A message that only thanks, greets or says goodbye: said back, with questions
        the sources answer (near the last one asked). A sign the turn before was sure of still brings its advice."""
        vector = self.embed(prepared.query)
        triage = self.assess(prepared, vector)
        if triage.urgent:
            return self._answer(question, prepared.text, [], 0.0, [ADVICE_TOPIC[t] for t in triage.urgent], [])
        near = self.embed(resolve(prepared.earlier[-1], prepared.earlier[:-1])) if prepared.earlier else None
        starters = tuple(self.suggestions[0][:3]) if near is None else self.suggest(near)
        return self._abstain(question, prepared.text, SOCIAL_REPLIES[prepared.social], 0.0, suggestions=starters)

    def _each_part(self, readings, picks: list[Pick], confidence: float) -> tuple[list[Pick], float, tuple[str, ...]]:
        """`each_part` with this assistant's threshold and answer length."""
        return each_part(readings, picks, confidence, self.threshold, self.settings.max_units)

    def _part_readings(self, prepared: Prepared) -> tuple[tuple[Prepared, list[Pick], float], ...]:
        """(prepared part, picks, confidence) for each question sentence read on its own, resolved
        against the story and the parts before it."""
        earlier = (*prepared.earlier, prepared.story) if prepared.story else prepared.earlier  # "What does that do?"
        readings = []
        for part in prepared.parts:
            part_prepared = self.preparer.part(part, earlier)
            readings.append((part_prepared, *self.read(part_prepared.query, part_prepared.text)[:2]))
            if part_prepared.text and not part_prepared.problem:
                earlier = (*earlier, part_prepared.spelled)  # a later part may lean on this one
        return tuple(readings)

    def _abstain(
        self, question: str, resolved: str, message: str, confidence: float, topics: list[str] = (),
        suggestions: tuple[str, ...] = (), usable: bool = True, touched: list[str] = (), unanswered: tuple[str, ...] = (),
    ) -> Answer:
        citations: list[Citation] = []
        urgent = self._urgent(topics, citations)
        help_note = None if urgent is not None else self._urgent(touched, citations)
        support = tuple(self._cited(line, citations) for line in self.support) if asks_about_outlook(resolved) else ()
        return Answer(
            question=question, units=(), citations=tuple(citations), abstained=True, confidence=confidence,
            disclaimer=DISCLAIMER, urgent=urgent, message=message, resolved_question=resolved,
            suggestions=suggestions, usable=usable, help_note=help_note, support=support, unanswered=unanswered,
        )

    def _answer(
        self, question: str, resolved: str, picks: list[Pick], confidence: float, topics: list[str], touched: list[str],
    ) -> Answer:
        citations: list[Citation] = []
        quoted = [p.chunk.file for p in picks]
        urgent = self._urgent(topics, citations, quoted)
        units = []
        for pick in picks:
            if urgent is not None and within(pick.unit.text, urgent.text):
                continue  # already shown first, in the urgent notice
            n = cite(citations, pick.chunk, pick.unit.span)
            highlight = None
            if self.highlighter is not None:
                highlight = self.highlighter.highlight(resolved, pick.unit.text)
            units.append(AnswerUnit(pick.unit.text, n, round(pick.score, 4), highlight))
        help_note = None
        if urgent is None and touched:
            advice = advice_for(self.advice_by_file, touched, quoted)
            if advice is not None and not any(within(u.text, advice.unit.text) or within(advice.unit.text, u.text) for u in units):
                help_note = self._cited(advice, citations)  # cited after the answer's own sources
        return Answer(
            question=question, units=tuple(units), citations=tuple(citations), abstained=False,
            confidence=self.calibration.shown(confidence, not picks or picks[0].chunk.doc_id in self.familiar),
            disclaimer=DISCLAIMER, urgent=urgent, resolved_question=resolved, help_note=help_note,
        )

    def _urgent(self, topics: list[str], citations: list[Citation], quoted: list[str] = ()) -> AnswerUnit | None:
        """The advice for the first urgent topic that has some, cited: for a sign
        happening now, advice that sends to emergency care wherever a source gives it."""
        advice = advice_for(self.advice_by_file, topics, quoted, now=True)
        return None if advice is None else self._cited(advice, citations)

    @staticmethod
    def _cited(advice: Advice, citations: list[Citation]) -> AnswerUnit:
        return AnswerUnit(text=advice.unit.text, citation=cite(citations, advice.chunk), score=1.0)
