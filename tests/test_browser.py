"""The chat in a real browser: Debian's Chromium driven by Playwright against the
live app (real assistant). Saves screenshots to eval/screenshots/ (and, with
QA_UPDATE_SCREENSHOT=1, the README's docs/screenshot.png)."""

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

import live_app
from live_app import ROOT, serve

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)", allow_module_level=True)

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
    """A function opening a fresh chat page (own session) at a given width."""
    contexts = []

    def open_page(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(live[0], wait_until="load")
        page.locator("#qa-box textarea").wait_for()
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
    if os.environ.get("QA_UPDATE_SCREENSHOT"):  # refresh the README's picture on request only
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


def test_thumbs_up_is_saved_to_the_feedback_file(open_chat, live):
    page = open_chat()
    ask(page, "what is vertebroplasty")
    feedback = live[1]
    before = feedback.read_text().count("\n") if feedback.exists() else 0
    page.get_by_role("button", name="Like").last.click()  # the latest answer's thumbs-up
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not feedback.exists() or feedback.read_text().count("\n") == before):
        time.sleep(0.1)
    line = json.loads(feedback.read_text().splitlines()[-1])
    assert line["vote"] == "up" and line["question"] == "what is vertebroplasty"
    assert "cement" in line["answer"] and line["citations"]
    expect(page.get_by_text("your feedback was saved")).to_be_visible()


def test_examples_empty_messages_and_new_conversation(open_chat):
    page = open_chat()
    expect(page.get_by_text("What it is not:")).to_be_visible()
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
    expect(page.get_by_text("What it is not:")).to_be_visible()


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
    urgent = ask(page, "my husband has back pain and suddenly his legs are weak and numb")
    show_top_of(page, urgent)
    page.screenshot(path=SHOTS / "phone-urgent.png")
