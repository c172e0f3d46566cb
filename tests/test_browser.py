"""The chat in a real browser: Debian's Chromium driven by Playwright against the
live app (real assistant), at phone (390x844) and desktop (1280x900) sizes, light
and dark, with axe-core (npm) checking accessibility. Saves screenshots to
eval/screenshots/ (and, with QA_UPDATE_SCREENSHOT=1, the README's docs/screenshot.png
and docs/screenshot-phone.png)."""

import json
import os
import re
import shutil
import time
from pathlib import Path

import live_app
import pytest
from live_app import ROOT, serve

CHROMIUM = Path(os.environ.get("QA_CHROMIUM", "/usr/bin/chromium"))
# A missing browser fails the run (`make test` installs it where it may): the chat is never
# passed as tested when it was not. QA_SKIP_BROWSER=1 skips these tests on purpose, and says so.
if os.environ.get("QA_SKIP_BROWSER") == "1":
    pytest.skip("QA_SKIP_BROWSER=1: the browser tests were skipped on purpose", allow_module_level=True)
if not CHROMIUM.exists():
    pytest.fail(f"{CHROMIUM} is missing, so the chat's browser tests cannot run: install Debian's chromium with "
                "`sudo apt-get install chromium` (or run `make test`, which installs it when it may)", pytrace=False)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser, *live_app.QUIET_GRADIO]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "eval" / "screenshots"
ANSWERS = '[data-testid="bot"] .qa-answer'
XSS = "<script>window.__xss=1</script>"
XSS_IMG = "is <img src=x onerror=window.__xss=2> safe?"
# WCAG contrast of an element's text against the first opaque background behind
# it, with the opacity of the elements in between blended in.
CONTRAST_JS = """el => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let node = el, alpha = 1, back = [255, 255, 255];
  while (node) {
    const s = getComputedStyle(node), c = rgb(s.backgroundColor);
    alpha *= Number(s.opacity);
    if (c.length === 3 || c[3] > 0.9) { back = c.slice(0, 3); break; }
    node = node.parentElement;
  }
  const fore = rgb(getComputedStyle(el).color).slice(0, 3).map((v, i) => alpha * v + (1 - alpha) * back[i]);
  const a = lum(fore), b = lum(back);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.fixture(scope="module")
def live(assistant, tmp_path_factory):
    feedback = tmp_path_factory.mktemp("browser") / "feedback.jsonl"
    with serve(assistant, feedback) as url:
        yield url, feedback


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_chat(live, browser):
    """A function opening a fresh chat page (own browser storage, own session)."""
    contexts = []

    def open_page(width: int = 1280, height: int = 900, scheme: str = "light"):
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(live[0], wait_until="load")
        page.locator("#qa-box textarea").wait_for()
        page.wait_for_function("window.qaChat !== undefined")
        return page

    yield open_page
    for context in contexts:
        context.close()


def ask(page, question: str) -> object:
    """Type a question, press Enter (keyboard only), and return the new answer's locator."""
    before = page.locator(ANSWERS).count()
    box = page.locator("#qa-box textarea")
    box.click()
    box.fill(question)
    box.press("Enter")
    expect(page.locator(ANSWERS)).to_have_count(before + 1)
    return page.locator(ANSWERS).nth(before)


def show_top_of(page, answer) -> None:
    """Scroll the chat so an answer's question is at the top, for a screenshot."""
    page.wait_for_timeout(300)  # let the chat's own autoscroll finish first
    answer.evaluate("el => el.closest('.message-row').previousElementSibling?.scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)


def test_cited_answer_source_and_follow_up(open_chat):
    page = open_chat()
    first = ask(page, "what is zometa?")
    expect(first.locator(".qa-units")).to_contain_text("Zometa")
    expect(first.locator(".qa-units .qa-ref").first).to_have_text("[1]")
    expect(first.locator(".qa-disclaimer")).to_contain_text("not medical advice")
    follow = ask(page, "what are its side effects?")
    expect(follow.locator(".qa-units")).to_contain_text("side effects")
    expect(follow.locator(".qa-confidence")).to_have_text(re.compile(r"^(High|Medium|Low) confidence$"))
    source = follow.locator("details.qa-source").first
    expect(source.locator("mark").first).to_be_hidden()
    source.locator("summary").focus()
    page.keyboard.press("Enter")  # keyboard opens a source
    expect(source).to_have_attribute("open", "")
    mark = source.locator("mark").first
    expect(mark).to_be_visible()
    assert mark.inner_text().strip()[:40] in follow.locator(".qa-units").inner_text()
    for selector in (".qa-units", ".qa-confidence", ".qa-disclaimer", "summary", "mark"):
        ratio = follow.locator(selector).first.evaluate(CONTRAST_JS)
        assert ratio >= 4.5, f"{selector} contrast {ratio:.2f}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.activeElement.blur()")
    show_top_of(page, follow)
    page.screenshot(path=SHOTS / "desktop.png")
    if os.environ.get("QA_UPDATE_SCREENSHOT"):  # refresh the README's pictures on request only
        shutil.copyfile(SHOTS / "desktop.png", ROOT / "docs" / "screenshot.png")


def test_urgent_notice_is_first_and_labelled(open_chat):
    page = open_chat()
    answer = ask(page, "my husband has back pain and suddenly his legs are weak and numb")
    urgent = answer.locator(".qa-urgent")
    expect(urgent).to_contain_text("Urgent")
    expect(urgent).to_contain_text("emergency room")
    assert answer.evaluate("el => el.firstElementChild.classList.contains('qa-urgent')")
    assert urgent.locator("p").last.evaluate(CONTRAST_JS) >= 4.5
    show_top_of(page, answer)
    page.screenshot(path=SHOTS / "desktop-urgent.png")


@pytest.mark.parametrize("message", ["what is hypercalcaemia?", "I had cord compression last year and I'm walking fine now, can I exercise?"])
def test_a_definition_or_past_event_gets_a_calm_note_never_the_red_box(open_chat, message):
    page = open_chat()
    answer = ask(page, message)
    expect(answer.locator(".qa-help")).to_contain_text("When to get help")
    assert answer.locator(".qa-urgent").count() == 0 and answer.locator("[role=alert]").count() == 0
    assert answer.locator(".qa-help p").last.evaluate(CONTRAST_JS) >= 4.5
    show_top_of(page, answer)
    page.screenshot(path=SHOTS / f"desktop-help-note-{len(message)}.png")


def test_off_topic_abstains_and_offers_suggestions(open_chat):
    page = open_chat()
    answer = ask(page, "how do I renew my passport?")
    expect(answer).to_contain_text("don't cover this question")
    expect(answer).to_contain_text("care team")
    expect(answer.locator(".qa-units")).to_have_count(0)
    suggestion = page.get_by_role("button", name="How can I prevent falls at home?")
    expect(suggestion).to_be_visible()
    suggestion.click()  # a suggestion asks itself
    expect(page.locator(ANSWERS)).to_have_count(2)
    expect(page.locator('[data-testid="user"] .qa-question').last).to_have_text("How can I prevent falls at home?")
    expect(page.locator(ANSWERS).last.locator(".qa-units")).to_be_visible()


def test_typed_markup_is_shown_as_text_and_never_runs(open_chat):
    page = open_chat()
    answer = ask(page, XSS)
    expect(page.locator('[data-testid="user"] .qa-question').last).to_have_text(XSS)
    expect(answer).to_contain_text("Please type a question")
    ask(page, XSS_IMG)
    expect(page.locator('[data-testid="user"] .qa-question').last).to_have_text(XSS_IMG)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#qa-chat img").count() == 0


def feedback_lines(page, feedback, count: int) -> list[dict]:
    """The feedback file's lines once it holds `count` (waiting for the server to write them)."""
    page.wait_for_function("() => true")  # let the page send its vote
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not feedback.exists() or feedback.read_text().count("\n") < count):
        time.sleep(0.1)
    return [json.loads(line) for line in feedback.read_text().splitlines()]


def test_thumbs_up_is_saved_to_the_feedback_file(open_chat, live):
    page = open_chat()
    ask(page, "what is vertebroplasty")
    feedback = live[1]
    before = feedback.read_text().count("\n") if feedback.exists() else 0
    page.get_by_role("button", name="Helpful", exact=True).last.click()  # the latest answer's thumbs-up
    expect(page.get_by_text("was saved")).to_be_visible()
    line = feedback_lines(page, feedback, before + 1)[-1]
    assert line["vote"] == "up" and line["question"] == "what is vertebroplasty"
    assert "cement" in line["answer"] and line["citations"]


def test_examples_empty_messages_and_new_conversation(open_chat):
    page = open_chat()
    expect(page.get_by_text("Not a doctor:")).to_be_visible()
    box = page.locator("#qa-box textarea")
    box.fill("   ")
    box.press("Enter")
    page.wait_for_timeout(500)
    assert page.locator('[data-testid="user"]').count() == 0
    page.get_by_role("button", name="What is Xgeva (denosumab)?").click()
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(page.locator(ANSWERS).first).to_contain_text("denosumab")
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(ANSWERS)).to_have_count(0)
    expect(page.get_by_text("Not a doctor:")).to_be_visible()


def test_phone_width_fits_without_sideways_scrolling(open_chat):
    page = open_chat(390, 844)
    page.screenshot(path=SHOTS / "phone-welcome.png")
    ask(page, "what is zometa?")
    answer = ask(page, "what are its side effects?")
    answer.locator("details.qa-source summary").first.click()
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = answer.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 300
    show_top_of(page, answer)
    page.screenshot(path=SHOTS / "phone.png")
    ask(page, "my husband has back pain and suddenly his legs are weak and numb")
    page.wait_for_timeout(300)  # as it lands: the chat itself brings the urgent notice into view
    page.screenshot(path=SHOTS / "phone-urgent.png")
    if os.environ.get("QA_UPDATE_SCREENSHOT"):
        shutil.copyfile(SHOTS / "phone-urgent.png", ROOT / "docs" / "screenshot-phone.png")



# --- what a person sees on arrival, on a phone and a desktop -------------------

URGENT_QUESTION = "my back hurts and my legs are numb and weak, should I wait?"
SIZES = [(390, 844), (1280, 900)]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def slow_answers(assistant, monkeypatch):
    """Answers take a second, as on a slow network, so a person can act while one is pending."""
    real_ask = assistant.ask

    def ask(question, history=()):
        time.sleep(1.0)
        return real_ask(question, history)

    monkeypatch.setattr(assistant, "ask", ask)


def in_viewport(page, locator) -> dict:
    """The element's box, and whether it lies wholly in the window and in the chat's visible part."""
    return locator.evaluate("""el => {
      const r = el.getBoundingClientRect(), log = document.querySelector('#qa-chat [role=log]').getBoundingClientRect();
      return {top: r.top, bottom: r.bottom, height: r.height,
              in_window: r.top >= 0 && r.bottom <= window.innerHeight,
              in_chat: r.top >= log.top - 1 && r.bottom <= log.bottom + 1};
    }""")


@pytest.mark.parametrize("size", SIZES, ids=["phone", "desktop"])
def test_a_new_urgent_answer_shows_its_urgent_box_whole(open_chat, size):
    page = open_chat(*size)
    ask(page, "what is zometa?")
    ask(page, "what are its side effects?")  # a long conversation above: the chat must scroll
    answer = ask(page, URGENT_QUESTION)
    page.wait_for_timeout(300)
    urgent = answer.locator(".qa-urgent")
    expect(urgent).to_contain_text("Urgent")
    box = in_viewport(page, urgent)
    assert box["in_window"] and box["in_chat"], box  # heading and advice, without scrolling


def test_a_reader_who_scrolled_up_keeps_their_place(open_chat, slow_answers):
    page = open_chat(390, 844)
    ask(page, "what is zometa?")
    ask(page, "what are its side effects?")
    box = page.locator("#qa-box textarea")
    box.fill("what is vertebroplasty")
    box.press("Enter")
    log = page.locator("#qa-chat [role=log]")
    expect(page.locator(".qa-pending")).to_have_count(1)  # sent, its answer on the way
    log.hover()
    page.mouse.wheel(0, -5000)  # the reader scrolls up to read while the answer is pending
    page.wait_for_timeout(200)
    place = log.evaluate("el => el.scrollTop")
    expect(page.locator(ANSWERS)).to_have_count(3)
    page.wait_for_timeout(300)
    assert log.evaluate("el => el.scrollTop") == place  # not moved
    jump = page.locator("#qa-jump")
    expect(jump).to_be_visible()
    jump_box, log_box = jump.bounding_box(), log.bounding_box()
    assert jump_box["y"] >= log_box["y"] + log_box["height"]  # below the chat: covers no text
    assert jump_box["height"] >= 44
    jump.click()
    expect(jump).to_be_hidden()
    newest = page.locator(ANSWERS).nth(2)
    assert in_viewport(page, newest.locator(".qa-units"))["top"] >= log_box["y"] - 1
    assert page.evaluate("document.activeElement.dataset.testid") == "bot"  # the answer has the focus


def test_a_question_sent_while_another_is_answered_is_kept_and_answered(open_chat, slow_answers):
    page = open_chat()
    box = page.locator("#qa-box textarea")
    box.fill("what is zometa?")
    box.press("Enter")
    expect(box).to_have_value("")
    pending = page.locator(".qa-pending")
    expect(pending).to_have_count(1)
    expect(pending.first).to_contain_text("Sending…")
    box.fill("what is vertebroplasty")  # typed and sent before the first answer lands
    box.press("Enter")
    expect(pending).to_have_count(2)
    expect(pending.nth(1)).to_contain_text("what is vertebroplasty")  # kept on screen, not lost
    expect(pending.nth(1)).to_contain_text("sent as soon as the answer above arrives")
    expect(box).to_have_value("")  # free for the next one
    expect(page.locator(ANSWERS)).to_have_count(2, timeout=20_000)
    expect(pending).to_have_count(0)
    asked = page.locator('[data-testid="user"] .qa-question').all_inner_texts()
    assert asked == ["what is zometa?", "what is vertebroplasty"]
    expect(page.locator(ANSWERS).nth(0)).to_contain_text("Zometa")
    expect(page.locator(ANSWERS).nth(1)).to_contain_text("cement")
    expect(box).to_have_value("")


def test_the_conversation_survives_a_reload_until_new_conversation(open_chat, live):
    page = open_chat(390, 844)
    ask(page, "what is zometa?")
    ask(page, "what are its side effects?")
    page.reload(wait_until="load")
    expect(page.locator(ANSWERS)).to_have_count(2)
    expect(page.locator('[data-testid="user"] .qa-question').first).to_have_text("what is zometa?")
    # The follow-up context came back too: "it" is still Zometa.
    follow = ask(page, "how is it given?")
    expect(follow.locator(".qa-units")).to_contain_text(re.compile(r"IV|vein|infusion|inject", re.I))
    # A vote on an answer from before the reload is saved with its question.
    feedback = live[1]
    before = feedback.read_text().count("\n") if feedback.exists() else 0
    page.get_by_role("button", name="Helpful", exact=True).first.click()
    expect(page.get_by_text("was saved")).to_be_visible()
    line = json.loads(feedback.read_text().splitlines()[before])
    assert line["question"] == "what is zometa?" and line["vote"] == "up"
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(ANSWERS)).to_have_count(0)
    page.reload(wait_until="load")
    page.locator("#qa-box textarea").wait_for()
    page.wait_for_timeout(500)
    expect(page.locator(ANSWERS)).to_have_count(0)
    expect(page.get_by_text("Not a doctor:")).to_be_visible()


def test_each_marker_opens_and_shows_its_source(open_chat):
    page = open_chat(390, 844)
    answer = ask(page, "what is xgeva?")  # an answer citing three sources
    refs = answer.locator(".qa-units a.qa-ref")
    assert refs.count() >= 2
    last = refs.last
    n = last.inner_text().strip()
    last.click()
    source = answer.locator("details.qa-source").filter(has=page.locator(".qa-num", has_text=n))
    expect(source).to_have_attribute("open", "")
    summary = source.locator("summary")
    expect(summary).to_be_focused()
    assert in_viewport(page, summary)["in_window"]
    assert summary.inner_text().startswith(n)
    other = answer.locator("details.qa-source").first
    if other.locator(".qa-num").inner_text() != n:
        assert other.get_attribute("open") is None  # only the one tapped


def test_touch_targets_order_and_reminder_size(open_chat):
    page = open_chat(390, 844)
    examples = page.locator("#qa-chat button.example")
    assert examples.count() <= 4
    answer = ask(page, "what is zometa?")
    controls = {
        "Like": page.get_by_role("button", name="Helpful", exact=True).last,
        "Dislike": page.get_by_role("button", name="Not helpful", exact=True).last,
        "Copy": page.get_by_role("button", name="Copy answer").last,
        "Ask": page.locator("#qa-box button").last,
        "New conversation": page.get_by_role("button", name="New conversation"),
        "source": answer.locator("details.qa-source summary").first,
    }
    for name, control in controls.items():
        box = control.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (name, box)
    assert controls["Like"].bounding_box()["x"] < controls["Dislike"].bounding_box()["x"]  # thumbs-up first
    # [n] sits in a sentence; its tappable area is 44 x 44 around it.
    ref = answer.locator("a.qa-ref").first
    ref.scroll_into_view_if_needed()
    hits = ref.evaluate("""el => { const r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
      return [[-21, 0], [21, 0], [0, -21], [0, 21]].map(([dx, dy]) => el.contains(document.elementFromPoint(x + dx, y + dy))); }""")
    assert all(hits), hits
    size = answer.locator(".qa-disclaimer").evaluate("el => parseFloat(getComputedStyle(el.querySelector('small')).fontSize)")
    assert size >= 13
    ask(page, "how do I renew my passport?")
    option = page.locator("#qa-chat button.option").first
    assert option.bounding_box()["height"] >= 44


def test_the_welcome_comes_first_on_a_phone(open_chat):
    page = open_chat(390, 844)
    welcome = page.get_by_text("Ask about bone metastasis", exact=False).first
    assert in_viewport(page, welcome)["in_window"] and in_viewport(page, welcome)["in_chat"]
    first_example = page.locator("#qa-chat button.example").first
    assert in_viewport(page, first_example)["in_window"]


def test_choosing_an_example_by_keyboard_keeps_focus_in_the_box(open_chat):
    page = open_chat()
    example = page.locator("#qa-chat button.example").nth(2)
    example.focus()
    page.keyboard.press("Enter")
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(page.locator('[data-testid="user"] .qa-question')).to_have_text("What is Xgeva (denosumab)?")
    expect(page.locator("#qa-box textarea")).to_be_focused()


def test_the_question_box_shows_where_the_focus_is(open_chat):
    page = open_chat()
    box = page.locator("#qa-box textarea")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Shift+Tab")
    box.focus()
    outline = box.evaluate("el => [getComputedStyle(el).outlineStyle, parseFloat(getComputedStyle(el).outlineWidth)]")
    assert outline[0] != "none" and outline[1] >= 2


def test_copy_answer_puts_the_answer_and_sources_on_the_clipboard(open_chat, live):
    page = open_chat()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live[0].rstrip("/"))
    answer = ask(page, "what is vertebroplasty")
    page.get_by_role("button", name="Copy answer").last.click()
    expect(page.locator("#qa-status")).to_have_text("Answer copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    first_unit = answer.locator(".qa-units").inner_text().split("[1]")[0].strip()
    assert first_unit and first_unit in copied
    assert "\nSources:\n[1] " in copied and "not medical advice" in copied and "<" not in copied


def test_a_very_long_message_is_cut_at_a_word_and_its_urgent_advice_is_whole(open_chat):
    page = open_chat(390, 844)
    message = ("my mother is very thirsty and confused and drinking so much water " * 50).strip()
    answer = ask(page, message)
    expect(answer.locator(".qa-note")).to_contain_text("last whole word")
    urgent = answer.locator(".qa-urgent")
    expect(urgent).to_contain_text("Urgent")
    # The advice names the signs it means, not only "If you experience these symptoms".
    expect(urgent).to_contain_text(re.compile(r"thirst", re.I))
    shown = page.locator('[data-testid="user"] .qa-question').last.inner_text()
    assert message.startswith(shown) and message[len(shown)] == " "
    assert in_viewport(page, urgent.locator(".qa-urgent-title"))["in_window"]


# --- accessibility: axe-core in every state, light and dark ---------------------


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical WCAG 2.2 A/AA violations on the page as it is."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make test` (it runs `npm ci`) or `npm ci` first")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async tags => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations
             .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))""",
        AXE_TAGS,
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES, ids=["phone", "desktop"])
def test_no_serious_accessibility_violations_in_any_state(open_chat, scheme, size):
    page = open_chat(*size, scheme=scheme)
    assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
    states = {"first load": axe_violations(page)}
    ask(page, "what is zometa?")
    states["answer"] = axe_violations(page)
    answer = ask(page, URGENT_QUESTION)
    states["urgent"] = axe_violations(page)
    answer.locator("details.qa-source summary").first.click()
    states["source open"] = axe_violations(page)
    ask(page, "what is hypercalcaemia?")
    states["when to get help"] = axe_violations(page)
    ask(page, "how do I renew my passport?")
    states["abstention"] = axe_violations(page)
    assert {state: found for state, found in states.items() if found} == {}
    page.screenshot(path=SHOTS / f"axe-{scheme}-{size[0]}.png")
