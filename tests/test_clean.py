from pathlib import Path

from qa.ingest.clean import (
    DROPPED,
    HEADING,
    ITEM,
    PARAGRAPH,
    is_heading_like,
    split_blocks,
)
from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[1]


def _blocks(doc_id):
    doc = next(d for d in load_corpus(ROOT / "corpus") if d.id == doc_id)
    return doc, split_blocks(doc)


def _kept_text(blocks):
    return "\n".join(b.text for b in blocks if b.kind != DROPPED)


def test_blocks_are_exact_slices_of_the_raw_text():
    for doc in load_corpus(ROOT / "corpus"):
        for block in split_blocks(doc):
            assert doc.text[block.span.start : block.span.end] == block.text


def test_promos_footers_and_link_lists_are_dropped():
    _, webmd = _blocks("webmd-bone-mets-page")
    kept = _kept_text(webmd)
    assert "Today on WebMD" not in kept and "sauteed cherry tomatoes" not in kept
    assert "Pill Identifier" not in kept  # navigation before the title
    _, compilation = _blocks("compilation")
    kept = _kept_text(compilation)
    for noise in ("Continue learning about", "Glossary", "make a donation", "Leave a Reply", "Learn more about integrative care",
                  "Next topic:", "Your email address will not be published", "Resources For More Information"):
        assert noise not in kept, noise
    assert "Bone pain is usually the first symptom of bone metastases." in kept
    _, csc = _blocks("csc-bone-mets")
    kept = _kept_text(csc)
    for noise in ("Order Now", "Would you like a print copy", "lemon water in mason jars", "Watch our Facebook Live", "Table of Contents"):
        assert noise not in kept, noise
    assert "Drink the right amount of fluids." in kept


def test_sources_and_review_stamps_are_not_content():
    _, webmd = _blocks("webmd-bone-mets")
    kept = _kept_text(webmd)
    assert "Show Sources" not in kept and "Shiozawa" not in kept and "© 2011 WebMD" not in kept
    assert "Medically Reviewed by" not in kept


def test_headings_paragraphs_and_items_are_told_apart():
    _, blocks = _blocks("acs-bone-mets-problems")
    kinds = {b.text: b.kind for b in blocks}
    assert kinds["Broken bones"] == HEADING
    assert kinds["Constipation"] == ITEM
    assert next(k for t, k in kinds.items() if t.startswith("There are many ways to treat pain")) == PARAGRAPH


def test_heading_rule():
    assert is_heading_like("Spinal cord compression")
    assert is_heading_like("What should you ask your doctor about bone metastasis?")
    assert not is_heading_like("Here are some questions you might want to ask:")
    assert not is_heading_like("Bone pain is often the first symptom.")
    assert not is_heading_like("lemon water in mason jars")


def test_a_heading_ending_in_a_bracket_is_a_heading_not_an_answer(tmp_path):
    # Seen with a clinic's own leaflets (issue 20): these were quoted as answers.
    assert is_heading_like("Radium-223 (Xofigo\u00ae)")
    assert is_heading_like("High calcium levels (hypercalcemia)")
    assert not is_heading_like("Take it with food (see the box below).")
    assert not is_heading_like("(see the box below)")
    assert not is_heading_like("and then it spreads (rarely)")
    (tmp_path / "leaflet.txt").write_text(
        "Radium-223 (Xofigo\u00ae)\n\nRadium-223 is a radioactive medicine given into a vein.\n\n"
        "High calcium levels (hypercalcemia)\n\nFluids through a drip bring the calcium down.\n",
        encoding="utf-8",
    )
    from qa.ingest.chunk import chunk_corpus

    chunks = chunk_corpus(load_corpus(tmp_path), 300, 1)
    assert [c.section for c in chunks] == ["Radium-223 (Xofigo\u00ae)", "High calcium levels (hypercalcemia)"]
    assert [u.text for c in chunks for u in c.units] == [
        "Radium-223 is a radioactive medicine given into a vein.",
        "Fluids through a drip bring the calcium down.",
    ]
