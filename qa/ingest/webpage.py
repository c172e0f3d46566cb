"""A saved web page's text, title and address, read with lxml (libxml2's HTML
parser: linear in the page's size, unlike a hand-made parser or the standard
library's, which went quadratic on a page of 33,000 unfinished `<a ` tags).

Only what a reader of the page would see is kept: hidden elements (`hidden`,
`aria-hidden="true"`, `display:none` or `visibility:hidden` in their style, a
closed <dialog>), embedded and non-text content (script, style, iframe, object,
svg, template...) and the site's furniture (nav, header, footer, aside, form)
are left out; a planted hidden sentence is never indexed or quoted.

    >>> html_to_text("<p>First<b>bold</b>word</p><p>Next.</p>")
    ('Firstboldword\\n\\nNext.\\n', None)
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from qa.errors import CorpusError

# Never text on the page: code, embedded documents and pictures, media fallbacks.
# Not <embed>: libxml2's element table predates HTML5 and does not know it is
# empty, so it would hold the rest of the page (as <wbr>, <source>, <track> would).
_DROP = {
    "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object", "applet",
    "svg", "math", "canvas", "audio", "video", "select", "datalist", "title",
}
# The site's furniture, left out when the page closes it; an unclosed one (the
# parser would stretch it to the end of the page) is read as a plain block,
# so a missing </nav> never loses the rest of the page.
_FURNITURE = ("nav", "header", "footer", "aside", "form")
# Rendered on lines of their own: a paragraph break around each.
_BLOCK = {
    "address", "article", "blockquote", "body", "br", "caption", "center", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "html", "legend", "li",
    "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
    *_FURNITURE,
}
_CELL = {"td", "th"}  # a row's cells: one line each, so a row reads as a flattened table

# Separators while the text is gathered: control characters that the source's
# own text can no longer hold, since its whitespace (these included) is folded first.
_PARAGRAPH, _LINE, _BULLET = "\x1e", "\x1f", "\x1d"
_SPACE = re.compile(r"\s+")
_BREAKS = re.compile(r" ?[\x1d\x1e\x1f][ \x1d\x1e\x1f]*")
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse))\b", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)  # an unclosed one runs to the end: linear
# The furniture's start and end tags in the source, outside comments, scripts and
# styles (whose text the parser does not read as tags either).
_FURNITURE_TAG = re.compile(
    r"<!--.*?(?:-->|\Z)|<(script|style)(?=[\s/>]).*?(?:</\1\s*>|\Z)|<(/?)(nav|header|footer|aside|form)(?=[\s/>])",
    re.I | re.S,
)


def html_to_text(raw: str) -> tuple[str, str | None]:
    """The text an HTML page shows, one paragraph per block, and its <title>.
    Inline tags (<b>, <a>, <span>) add no space, so words keep the spacing of
    the source; blocks, list items and table rows are paragraphs, a row's cells
    its lines."""
    from lxml import etree

    root = _parse(raw)
    if root is None:
        return "\n", None
    closed = _closed_furniture(raw, root)
    pieces: list[str] = []
    title: str | None = None
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, element in walk:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            if tag == "title" and title is None:
                title = " ".join("".join(element.itertext()).split()) or None
            if not tag or tag in _DROP or _hidden(element) or (tag in _FURNITURE and closed.get(element, True)):
                walk.skip_subtree()  # its end event still comes: the tail is read there
                if tag in _BLOCK:
                    pieces.append(_PARAGRAPH)
                continue
            pieces.append(_BULLET if tag == "li" else _PARAGRAPH if tag in _BLOCK else _LINE if tag in _CELL else "")
            if element.text:
                pieces.append(_SPACE.sub(" ", element.text))
        else:
            pieces.append(_PARAGRAPH if tag in _BLOCK else _LINE if tag in _CELL else "")
            if element.tail:
                pieces.append(_SPACE.sub(" ", element.tail))
    text = _BREAKS.sub(_break, re.sub(" {2,}", " ", "".join(pieces)))
    return text.strip() + "\n", title


def _break(match: re.Match) -> str:
    """One run of separators (and the spaces around them) as text: a list item
    when the run ends by opening one (an empty item opens and closes), else a
    paragraph break, else a line break (between a row's cells)."""
    run = match.group().rstrip(" ")
    if run[-1] == _BULLET:
        return "\n\n  • "
    return "\n\n" if _PARAGRAPH in run or _BULLET in run else "\n"


def canonical_url(raw: str) -> str | None:
    """The address a saved HTML page gives for itself (<link rel="canonical"> or og:url), if any."""
    root = _parse(raw)
    if root is None:
        return None
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return link.get("href").strip()
    for meta in root.iter("meta"):
        if (meta.get("property") or "").strip().lower() == "og:url" and meta.get("content"):
            return meta.get("content").strip()
    return None


def _parse(raw: str):
    """The page's element tree (None for an empty page). lxml reads any tag soup
    (recover mode) without fetching anything (no_network); huge_tree lifts
    libxml2's 10 MB limit on one text node, since a file may hold 20 MB."""
    from lxml import etree

    parser = etree.HTMLParser(
        encoding="utf-8", recover=True, no_network=True, huge_tree=True, remove_comments=True, remove_pis=True
    )
    # Encoded here, so a <meta charset> in a page saved as UTF-8 cannot make it read as another encoding.
    root = etree.fromstring(raw.encode("utf-8", "replace"), parser)
    fatal = [error for error in parser.error_log if error.level_name == "FATAL"]
    if fatal:
        # Recovery cannot mend these (tags nested over 2,048 deep): the parser
        # stops, and what it read so far would pass for the whole page.
        raise CorpusError(
            f"cannot be read as a web page (line {fatal[0].line}: {fatal[0].message.strip()}): "
            "save the page's text as a .txt file instead"
        )
    return root


def _hidden(element) -> bool:
    """Hidden from a reader of the page: never indexed, never quoted."""
    if element.get("hidden") is not None:
        return True
    if (element.get("aria-hidden") or "").strip().lower() == "true":
        return True
    if element.tag == "dialog" and element.get("open") is None:
        return True
    style = element.get("style")
    return bool(style) and _HIDDEN_STYLE.search(_CSS_COMMENT.sub("", style)) is not None


def _closed_furniture(raw: str, root) -> dict:
    """element -> whether its end tag is in the source, for each nav, header,
    footer, aside and form. The parser closes an unclosed one at the end of its
    parent, so the tree cannot tell; the source's tags, matched like the
    parser's (an end tag closes the latest open one of its name), can. The
    n-th start tag of a name in the source is the n-th element of that name."""
    flags: dict[str, list[bool]] = {name: [] for name in _FURNITURE}
    open_: dict[str, list[int]] = {name: [] for name in _FURNITURE}
    for match in _FURNITURE_TAG.finditer(raw):
        name = (match.group(3) or "").lower()
        if not name:
            continue  # a comment, script or style
        if match.group(2):
            if open_[name]:
                flags[name][open_[name].pop()] = True
        else:
            open_[name].append(len(flags[name]))
            flags[name].append(False)
    found: dict = {}
    for name in _FURNITURE:
        elements = list(root.iter(name))
        if len(elements) != len(flags[name]):
            # The parser made other elements than the source's tags (a form in a
            # form): keep them all if any is unclosed, rather than guess which.
            flags[name] = [all(flags[name])] * len(elements)
        found.update(zip(elements, flags[name]))
    return found


def web_address_problem(value) -> str:
    """Why `value` is not a plain http(s) address of a page, or '' when it is.
    An address with a user name before '@' is refused: in
    https://www.cancer.org@evil.example/x the host is evil.example."""
    if not isinstance(value, str) or not re.match(r"https?://", value):
        return "is not a full web address (https://...)"
    if re.search(r"[\s\\<>\"'`\x00-\x1f\x7f]", value):
        return "holds spaces, quotes, backslashes or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a port out of range raises)
    except ValueError:
        return "is not a full web address (https://...)"
    if "@" in parts.netloc:
        return f"names a user before '@', so its real host is {parts.hostname or 'none'}"
    host = parts.hostname or ""
    if not host.isascii():
        # A look-alike letter (a Cyrillic "а" in "cаncer.org") would pass for another site.
        return "has letters outside a-z in its host: give the host in its xn-- form"
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host):
        return "is not a full web address (https://...)"
    return ""


def host(url: str) -> str:
    """The host an address leads to, lower case, without a trailing dot."""
    return (urlsplit(url).hostname or "").rstrip(".")
