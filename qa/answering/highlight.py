"""Optional: highlight the exact words that answer the question inside an
answer unit, with a local extractive QA model (e.g. a SQuAD-tuned BERT).

transformers 5 has no question-answering pipeline, so this reads start and end
logits from AutoModelForQuestionAnswering and maps tokens back to characters
with the tokenizer's offset mapping.
"""

from __future__ import annotations

from pathlib import Path

from qa.data import Span
from qa.errors import ModelNotFoundError

MAX_ANSWER_TOKENS = 30


class Highlighter:
    """Finds the best answer span in a text; the model loads on first use."""

    def __init__(self, model_path: Path) -> None:
        self.model_path = Path(model_path)
        self._model = None
        self._tokenizer = None

    def _load(self) -> None:
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        if not (self.model_path / "config.json").is_file():
            raise ModelNotFoundError(f"no model in {self.model_path}: point highlight_model_path at a local QA model folder")
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        self._model = AutoModelForQuestionAnswering.from_pretrained(self.model_path, local_files_only=True).eval()

    def highlight(self, question: str, text: str) -> Span | None:
        """Character span of `text` that best answers `question`, or None."""
        if self._model is None:
            self._load()
        import torch

        encoded = self._tokenizer(
            question, text, truncation="only_second", max_length=384, return_offsets_mapping=True, return_tensors="pt"
        )
        offsets = encoded.pop("offset_mapping")[0].tolist()
        in_text = [sid == 1 for sid in encoded.sequence_ids(0)]
        with torch.inference_mode():
            output = self._model(**encoded)
        start_logits = output.start_logits[0].tolist()
        end_logits = output.end_logits[0].tolist()
        best, best_score = None, float("-inf")
        for i, start_ok in enumerate(in_text):
            if not start_ok:
                continue
            for j in range(i, min(i + MAX_ANSWER_TOKENS, len(in_text))):
                if not in_text[j]:
                    break
                score = start_logits[i] + end_logits[j]
                if score > best_score:
                    best, best_score = (offsets[i][0], offsets[j][1]), score
        if best is None or best[0] >= best[1]:
            return None
        return Span(best[0], best[1])
