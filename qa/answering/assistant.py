"""The assistant: question -> follow-up resolution -> retrieval -> answer units
-> citations, urgent-care advice and disclaimer.

    >>> assistant = Assistant.load()
    >>> answer = assistant.ask("what are its side effects?", history=["what is zometa?"])
    >>> print(answer.text)
"""

from __future__ import annotations

import html
import re
from functools import cached_property
from pathlib import Path

from qa.answering.answer import AnswerModel, Pick, in_reading_order, load_answer_model
from qa.answering.calibration import Calibration, load_calibration
from qa.answering.features import Reader, describe
from qa.answering.memory import Memory, load_memory
from qa.answering.retrieve import Retriever
from qa.answering.safety import (
    DISCLAIMER,
    Advice,
    answer_topics,
    find_advice,
    urgent_topics,
)
from qa.data import Answer, AnswerUnit, Citation, Passage, Span
from qa.errors import IndexNotFoundError, StaleIndexError
from qa.index.store import Index, build_index, load_index
from qa.language.followup import points_back, resolve, with_subject
from qa.language.message import question_parts
from qa.language.terms import (
    Vocabulary,
    asks_for_figure,
    english_frequency,
    states_figure,
)
from qa.language.text import normalise_text
from qa.settings import MAX_QUESTION_CHARS, Settings

NOT_COVERED = (
    "The sources I have don't cover this question, so I can't answer it. "
    "Please ask your care team; they know your situation."
)


class Assistant:
    """Answers questions from the index; one instance serves many questions."""

    def __init__(
        self,
        index: Index,
        embedder,
        settings: Settings,
        answer_model: AnswerModel | None = None,
        calibration: Calibration | None = None,
        memory: Memory | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.retriever = Retriever(index, settings)
        folder = settings.answer_model()
        self.reader = Reader(index, load_memory(folder) if memory is None else memory)
        self.answer_model = load_answer_model(folder) if answer_model is None else answer_model
        self.calibration = load_calibration(folder) if calibration is None else calibration
        self.highlighter = None
        if settings.reader_model_path is not None:
            from qa.answering.highlight import Highlighter

            self.highlighter = Highlighter(settings.reader_model_path)

    @classmethod
    def load(cls, settings: Settings | None = None, embedder=None, progress: bool = False) -> "Assistant":
        """Load the index, building it first if it is missing or stale."""
        from qa.index.embed import Embedder

        settings = Settings.from_env() if settings is None else settings
        embedder = Embedder(settings.embedding_model()) if embedder is None else embedder
        try:
            index = load_index(settings, embedder)
        except (IndexNotFoundError, StaleIndexError):
            build_index(settings, embedder, progress=progress)
            index = load_index(settings, embedder)
        assistant = cls(index, embedder, settings)
        assistant.warm_up()
        return assistant

    def warm_up(self) -> None:
        """Do the one-off work (model, BM25, word lists) before the first user waits."""
        self.ask("what is bone metastasis?")
        self.suggest(self.embedder.encode_query("passport"))

    @property
    def threshold(self) -> float:
        """Below this confidence the assistant abstains: the setting, else the calibrated one."""
        return self.calibration.threshold if self.settings.abstain_below is None else self.settings.abstain_below

    @cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.from_texts([f"{c.title} {c.section} {c.text}" for c in self.index.chunks])

    @cached_property
    def advice(self) -> dict[str, Advice]:
        return find_advice(self.index.chunks)

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

    def prepare(self, question: str, history=()) -> tuple[str, str]:
        """(clean question, search query): spelling fixed, resolved against history."""
        text = clean_question(question)
        spelled = self.vocabulary.fix_spelling(text)
        return text, resolve(spelled, self._earlier(history)) if self.settings.followups else spelled

    def _earlier(self, history) -> list[str]:
        """The usable earlier questions: cleaned, spelling fixed, junk left out."""
        cleaned = [clean_question(h) for h in history if isinstance(h, str)]
        return [self.vocabulary.fix_spelling(h) for h in cleaned if h and not self.problem_with(h)]

    def candidates(self, text: str, query: str, avoid: frozenset[int] = frozenset(), vector=None):
        """(question, candidate units, query vector) for a prepared query."""
        vector = self.embedder.encode_query(query) if vector is None else vector
        passages = self.retriever.search(query, vector, self.settings.top_k)
        sims = self.reader.memory.similarities(vector)  # once: both the question and its units read them
        question = describe(text, query, self.vocabulary, self.reader.memory.nearest(sims))
        return question, self.reader.candidates(query, passages, vector, avoid, sims), vector

    def answer_units(self, query: str, avoid: frozenset[int] = frozenset(), text: str | None = None):
        """(answer picks, confidence, query vector) for a prepared query."""
        question, candidates, vector = self.candidates(query if text is None else text, query, avoid)
        picks, raw = self.answer_model.choose(question, candidates, self.settings.max_units)
        return picks, self.calibration.probability(raw), vector

    def _previous_answer(self, history) -> frozenset[int]:
        """Units the last earlier question was answered with."""
        earlier = self._earlier(history)
        if not earlier:
            return frozenset()
        query = resolve(earlier[-1], earlier[:-1])
        picks, _, _ = self.answer_units(query, text=earlier[-1])
        return frozenset(p.uid for p in picks)

    def search(self, question: str, history=(), k: int | None = None) -> list[Passage]:
        """The passages retrieval finds for a question (what `ask` reads from)."""
        _, query = self.prepare(question, history)
        k = self.settings.top_k if k is None else k
        return self.retriever.search(query, self.embedder.encode_query(query), k)

    def ask(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Answer:
        """Answer one question; `history` holds the user's earlier questions, oldest first."""
        if not isinstance(question, str):
            raise ValueError(f"question must be a string, got {type(question).__name__}")
        text, resolved = self.prepare(question, history)
        problem = self.problem_with(text)
        if problem:
            return self._abstain(question, text, problem, confidence=0.0)
        urgent = urgent_topics(text)
        resolved, picks, confidence, vector = self._read(text, resolved, history)
        parts = question_parts(text)
        if len(parts) > 1:
            picks, confidence = self._each_part(parts, history, picks, confidence)
        if not picks or confidence < self.threshold:
            if any(topic in self.advice for topic in urgent) and not asks_for_figure(text):
                # An urgent sign in the user's own words: the sources' urgent-care
                # advice answers it, even when no other passage fits well. A
                # figure they lack ("what percent walk again after...") is still
                # refused, with the advice shown beside the refusal.
                return self._answer(question, resolved, [], confidence, urgent)
            message = self._why_not(text, picks)
            return self._abstain(question, resolved, message, confidence, urgent, self.suggest(vector))
        topics = urgent + [t for t in answer_topics([p.unit.text for p in picks]) if t not in urgent]
        return self._answer(question, resolved, picks, confidence, topics)

    def _read(self, text: str, resolved: str, history):
        """(resolved question, picks, confidence, vector) for a prepared question."""
        spelled = self.vocabulary.fix_spelling(text)
        # A follow-up should add to the last answer, not repeat it.
        avoid = self._previous_answer(history) if resolved != spelled else frozenset()
        picks, confidence, vector = self.answer_units(resolved, avoid, text)
        if self.settings.followups and history and resolved == spelled and points_back(text):
            if confidence < self.threshold:
                # It names a subject yet found no answer ("what protein does it
                # block?"): try once more with the subject of the conversation.
                leaning = with_subject(resolved, self._earlier(history))
                retry = self.answer_units(leaning, text=text)
                if retry[1] >= self.threshold:
                    return (leaning, *retry)
        return resolved, picks, confidence, vector

    def _each_part(self, parts: list[str], history, picks: list[Pick], confidence: float) -> tuple[list[Pick], float]:
        """A message asking two or three things gets the best unit for each part
        the sources answer, beside the best units for the message as a whole."""
        earlier, best, confident = list(history), [], []
        for part in parts:
            _, query = self.prepare(part, earlier)
            part_picks, part_confidence, _ = self.answer_units(query, text=part)
            earlier.append(part)
            if part_picks and part_confidence >= self.threshold:
                best.append(max(part_picks, key=lambda p: p.score))
                confident.append(part_confidence)
        if not best:
            return picks, confidence
        chosen: dict[int, Pick] = {}
        for pick in best + sorted(picks, key=lambda p: -p.score):
            if len(chosen) < self.settings.max_units and not any(_same_text(pick, other) for other in chosen.values()):
                chosen[pick.uid] = pick
        return in_reading_order(list(chosen.values())), max(confidence, min(confident))

    def _why_not(self, text: str, picks: list[Pick]) -> str:
        """The abstention message: it names words the sources never use, so
        "keytruda" is not taken for a word the assistant missed."""
        question = describe(text, text, self.vocabulary)
        rare = [word for word, zipf in question.unknown if zipf < self.settings.rare_term_zipf]
        if rare:
            return f"The sources don't mention {', '.join(rare[:3])}. " + NOT_COVERED
        if question.asks_for_figure and not any(states_figure(p.unit.text) for p in picks):
            return "The sources don't give that figure. " + NOT_COVERED
        return NOT_COVERED

    def problem_with(self, text: str) -> str:
        """A plain message when the question can't be asked as it is, else ''."""
        if not text:
            return "Please type a question about bone metastasis."
        if len(text) > MAX_QUESTION_CHARS:
            return f"That message is {len(text):,} characters long; please ask in under {MAX_QUESTION_CHARS:,}."
        letters = [c for c in text if c.isalpha()]
        if len(letters) < 2 or sum(not c.isprintable() for c in text) > 0.1 * len(text):
            return "That doesn't look like a question. Please type your question in words."
        if sum(c.isascii() for c in letters) < 0.7 * len(letters):
            return "I can only answer questions in English, from English-language sources."
        tokens = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) > 2]
        english = [w for w in tokens if english_frequency(w) >= 2.5 or self.vocabulary.knows(w)]
        if len(tokens) >= 3 and len(english) < 0.5 * len(tokens):
            return "I can only answer questions in English, from English-language sources."
        return ""

    def _abstain(
        self,
        question: str,
        resolved: str,
        message: str,
        confidence: float,
        topics: list[str] = (),
        suggestions: tuple[str, ...] = (),
    ) -> Answer:
        citations: list[Citation] = []
        urgent = self._urgent(topics, citations)
        return Answer(
            question=question,
            units=(),
            citations=tuple(citations),
            abstained=True,
            confidence=confidence,
            disclaimer=DISCLAIMER,
            urgent=urgent,
            message=message,
            resolved_question=resolved,
            suggestions=suggestions,
        )

    def _answer(self, question: str, resolved: str, picks: list[Pick], confidence: float, topics: list[str]) -> Answer:
        citations: list[Citation] = []
        urgent = self._urgent(topics, citations)
        units = []
        for pick in picks:
            if urgent is not None and pick.unit.text == urgent.text:
                continue  # already shown first, as the urgent notice
            n = _cite(citations, pick.chunk, pick.unit.span)
            highlight = None
            if self.highlighter is not None:
                highlight = self.highlighter.highlight(resolved, pick.unit.text)
            units.append(AnswerUnit(pick.unit.text, n, round(pick.score, 4), highlight))
        return Answer(
            question=question,
            units=tuple(units),
            citations=tuple(citations),
            abstained=False,
            confidence=confidence,
            disclaimer=DISCLAIMER,
            urgent=urgent,
            resolved_question=resolved,
        )

    def _urgent(self, topics: list[str], citations: list[Citation]) -> AnswerUnit | None:
        """The sources' advice for the first urgent topic that has some."""
        for topic in topics:
            advice = self.advice.get(topic)
            if advice is not None:
                n = _cite(citations, advice.chunk)
                return AnswerUnit(text=advice.unit.text, citation=n, score=1.0)
        return None


def _cite(citations: list[Citation], chunk, unit: Span | None = None) -> int:
    """The citation number for a unit of a chunk: an earlier citation of the
    same file that holds the unit is reused (overlapping chunks), else the
    chunk is cited anew."""
    for citation in citations:
        if citation.file != chunk.file:
            continue
        if citation.span == chunk.span:
            return citation.n
        if unit is not None and citation.span.start <= unit.start and unit.end <= citation.span.end:
            return citation.n
    citation = Citation(
        n=len(citations) + 1,
        doc_id=chunk.article_id,
        title=chunk.title,
        publisher=chunk.publisher,
        section=chunk.section,
        quote=chunk.text,
        span=Span(chunk.span.start, chunk.span.end),
        file=chunk.file,
        also_in=chunk.also_in,
        url=chunk.url,
    )
    citations.append(citation)
    return citation.n


def _same_text(a: Pick, b: Pick) -> bool:
    return a.chunk.file == b.chunk.file and a.unit.span == b.unit.span


def clean_question(text: str) -> str:
    """Plain text of a question: tags removed, entities decoded, spaces folded."""
    text = normalise_text(text)
    text = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", text, flags=re.I | re.S)
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    text = html.unescape(text)
    return " ".join(text.split())
