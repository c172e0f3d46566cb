"""Realistic clinic leaflets written for the tests (our own words): a two-column
PDF with a running header, a footer with page numbers, hyphenated line ends and
"Continued overleaf"; a Word file with headings and bullets; and the bad files
a clinic might drop in (a scan without text, an encrypted PDF, a broken one).

    >>> write_pdf_leaflet(tmp_path / "leaflet.pdf")
    >>> PDF_SENTENCES[0] in extracted_text   # every sentence comes out whole
"""

from __future__ import annotations

from pathlib import Path

HEADER = "Riverside Cancer Centre \u00b7 Patient information"
TITLE = "Living with bone metastases"

# (heading, paragraphs, bullets) per section; the leaflet lays them out in two columns.
SECTIONS = [
    (
        "What bone metastases are",
        [
            "Bone metastases are areas of cancer that started somewhere else and then spread into a bone. "
            "They are not the same as a cancer that begins in the bone itself.",
            "The spine, the pelvis and the thigh bones are where these deposits are found most often, "
            "because these bones hold a lot of red marrow.",
        ],
        [],
    ),
    (
        "Radium-223 (Xofigo\u00ae)",
        [
            "Radium-223 is a radioactive medicine given into a vein once every four weeks for up to six injections. "
            "It settles in the parts of the skeleton where the bone is being remodelled.",
        ],
        [],
    ),
    (
        "Signs to report straight away",
        ["Tell your treatment team the same day if you notice any of the following:"],
        [
            "new weakness or numbness in your legs",
            "trouble passing urine or controlling your bowels",
            "a sudden sharp pain after a minor knock",
        ],
    ),
    (
        "High calcium levels (hypercalcaemia)",
        [
            "When bone breaks down quickly, calcium can build up in the blood. "
            "Feeling very thirsty, passing a lot of urine and feeling muddled are typical complaints.",
            "A simple blood test shows the calcium level, and fluids through a drip usually bring it down within a few days.",
        ],
        [],
    ),
    (
        "Medicines that strengthen bone",
        [
            "Zoledronic acid is a bisphosphonate that slows down the cells which dissolve bone. "
            "Denosumab is an injection under the skin that works on a protein called RANKL.",
            "Both medicines can occasionally damage the jawbone, so a dental check before starting is recommended.",
        ],
        [],
    ),
    (
        "Scans you may have",
        [
            "A bone scan uses a small amount of a radioactive tracer to show where bone is changing. "
            "An MRI scan gives detailed pictures of the spine and the nerves around it.",
            "You may also have a CT scan to plan radiotherapy or to check how well a treatment is working.",
        ],
        [],
    ),
    (
        "Radiotherapy for bone pain",
        [
            "Radiotherapy aims high-energy rays at the painful area to shrink the cancer in the bone. "
            "Many people need only a single treatment, which takes a few minutes.",
            "The pain can flare up for a day or two before it settles, so keep taking your usual painkillers.",
        ],
        [],
    ),
    (
        "Operations to support a weak bone",
        [
            "A surgeon can put a metal rod or plate into a long bone that is at risk of breaking. "
            "Cement can be injected into a collapsed vertebra to make it stronger and ease the pain.",
        ],
        [],
    ),
    (
        "Questions you might ask",
        [
            "Write your questions down before each appointment and bring someone with you if you can. "
            "It is always fine to ask the team to explain something again in plainer words.",
        ],
        [],
    ),
    (
        "Looking after yourself",
        [
            "Gentle activity such as short walks helps to keep muscles strong and protects your balance. "
            "A physiotherapist can suggest movements that are safe for the bones that are affected.",
            "Keep a simple diary of your pain so that your team can adjust your painkillers with confidence.",
        ],
        [],
    ),
]

# Every sentence of the leaflet, as a reader expects to find it in the extracted text.
PDF_SENTENCES = [
    s.strip() + ("" if s.strip().endswith((".", ":")) else ".")
    for _, paragraphs, _ in SECTIONS
    for p in paragraphs
    for s in p.replace(". ", ".|").split("|")
]
PDF_BULLETS = [b for _, _, bullets in SECTIONS for b in bullets]


def _wrap(text: str, width: float, font: str, size: float, stringwidth) -> list[str]:
    """Greedy line breaking that hyphenates a long word at a line end, as DTP tools do."""
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if stringwidth(trial, font, size) <= width:
            line = trial
            continue
        if len(word) >= 8 and "-" not in word:  # hyphenate: as much as fits, at least 3 letters each side
            for cut in range(len(word) - 3, 2, -1):
                head = f"{line} {word[:cut]}-".strip()
                if stringwidth(head, font, size) <= width:
                    lines.append(head)
                    line = word[cut:]
                    break
            else:
                lines.append(line)
                line = word
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def write_pdf_leaflet(path: Path, sections=SECTIONS, repeat: int = 1, interleave: bool = False) -> Path:
    """A two-column A5 leaflet. `repeat` runs the sections that many times (a long
    file); `interleave` draws the two columns line by line across the page, as
    some PDF writers order their text, so only geometry gives the reading order."""
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    width, height = A5
    margin, gutter, body = 36, 18, 9.5
    col_w = (width - 2 * margin - gutter) / 2
    top, bottom, leading = height - 60, 62, 12.5
    # Lay out every line first: (font, size, text, indent, gap before).
    flow: list[tuple[str, float, str, float, float]] = []
    for _ in range(repeat):
        for heading, paragraphs, bullets in sections:
            for i, line in enumerate(_wrap(heading, col_w, "Helvetica-Bold", 11, stringWidth)):
                flow.append(("Helvetica-Bold", 11, line, 0, 8 if i == 0 else 0))
            for para in paragraphs:
                for i, line in enumerate(_wrap(para, col_w, "Helvetica", body, stringWidth)):
                    flow.append(("Helvetica", body, line, 0, 6 if i == 0 else 0))
            for bullet in bullets:
                for i, line in enumerate(_wrap(bullet, col_w - 12, "Helvetica", body, stringWidth)):
                    flow.append(("Helvetica", body, ("\u2022 " if i == 0 else "") + line, 0 if i == 0 else 9, 3 if i == 0 else 0))
    # Place the lines into columns and pages.
    pages: list[list[tuple[float, float, str, float, str]]] = [[]]
    column, y = 0, top - 30  # the title takes the top of page one
    for font, size, text, indent, gap in flow:
        y -= gap + leading
        if y < bottom:
            column, y = column + 1, top - leading
            if column == 2:
                pages.append([])
                column = 0
        pages[-1].append((margin + column * (col_w + gutter) + indent, y, text, size, font))
    pdf = canvas.Canvas(str(path), pagesize=A5)
    pdf.setTitle(TITLE)
    for number, placed in enumerate(pages, start=1):
        pdf.setFont("Helvetica", 7.5)
        pdf.drawString(margin, height - 28, HEADER)  # running header
        if number == 1:
            pdf.setFont("Helvetica-Bold", 16)
            pdf.drawString(margin, height - 62, TITLE)
        order = sorted(placed, key=lambda p: (-round(p[1]), p[0])) if interleave else placed
        for x, y_pos, text, size, font in order:
            pdf.setFont(font, size)
            pdf.drawString(x, y_pos, text)
        pdf.setFont("Helvetica", 7.5)
        if number < len(pages):
            pdf.drawRightString(width - margin, 44, "Continued overleaf")
        pdf.drawCentredString(width / 2, 28, f"Page {number} of {len(pages)}")  # running footer
        pdf.showPage()
    pdf.save()
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A 'scan': one page that is only a picture, with no text layer."""
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A5)
    pdf.setFillGray(0.3)
    for row in range(28):  # grey bars where lines of text would be
        pdf.rect(60, 540 - row * 17, 200 + (row * 37) % 120, 9, stroke=0, fill=1)
    pdf.showPage()
    pdf.save()
    return path


def write_encrypted_pdf(path: Path) -> Path:
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A5, encrypt="open-sesame")
    pdf.drawString(40, 540, "A leaflet that needs a password to open.")
    pdf.showPage()
    pdf.save()
    return path


def write_docx_leaflet(path: Path) -> Path:
    """A Word leaflet: a title, headings, paragraphs and bullets, a numbered list and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Bone pain and how to ease it"
    document.add_heading("Bone pain and how to ease it", level=0)
    document.add_paragraph("This leaflet is for people whose cancer has spread to the bones.")
    document.add_heading("Why bones ache", level=1)
    document.add_paragraph(
        "Cancer in a bone can stretch its outer lining, which is full of nerves. "
        "The ache is often worse at night and when you put weight on the bone."
    )
    document.add_heading("Radiotherapy (a single dose)", level=1)
    document.add_paragraph("A single dose of radiotherapy eases bone pain for most people within four weeks.")
    document.add_heading("Things that help at home", level=2)
    document.add_paragraph("Many people find these helpful:")
    for item in ("a warm wheat bag on the sore area", "regular painkillers taken by the clock", "a pillow between the knees at night"):
        document.add_paragraph(item, style="List Bullet")
    document.add_paragraph("Ask for help in this order:")
    for item in ("your specialist nurse", "the hospital switchboard out of hours"):
        document.add_paragraph(item, style="List Number")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Medicine", "How often"
    table.cell(1, 0).text, table.cell(1, 1).text = "Denosumab", "Every four weeks"
    document.save(str(path))
    return path
