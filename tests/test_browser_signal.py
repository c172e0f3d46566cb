"""The chat in a real browser on a bad phone signal, at the doctor's, and honest about
what it keeps (issue 21): no question lost offline, on a slow link or over a reload;
votes that keep their state and save only what the footer says; reading fixes; Save
or print. At 390x844 and 1280x900, light and dark, with screenshots in eval/screenshots/.
The network is simulated with Playwright (context.set_offline, held and failed routes)."""

import json
import re
from pathlib import Path

import live_app
import pytest
from playwright.sync_api import expect
from test_browser import (  # noqa: F401  (fixtures)
    ANSWERS,
    SHOTS,
    ask,
    axe_violations,
    browser,
    feedback_lines,
    in_viewport,
    live,
    open_chat,
    slow_answers,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser, *live_app.QUIET_GRADIO]
expect.set_options(timeout=15_000)  # answers take seconds when the machine is busy (a training job beside it)
SIZES = [(390, 844), (1280, 900)]
LOOKS = [(390, 844, "light"), (1280, 900, "dark"), (390, 844, "dark"), (1280, 900, "light")]
LOOK_IDS = ["phone-light", "desktop-dark", "phone-dark", "desktop-light"]
JOIN = "**/gradio_api/queue/join*"  # where the page hands a question to the server
QUESTIONS = '[data-testid="user"] .qa-question'


def send(page, text: str) -> None:
    box = page.locator("#qa-box textarea")
    box.fill(text)
    box.press("Enter")


def shot(page, name: str, size) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}-{size[0]}.png")


# --- 1. no question lost ---------------------------------------------------------


@pytest.mark.parametrize("width,height,scheme", LOOKS[:2], ids=LOOK_IDS[:2])
def test_a_question_sent_offline_stays_marked_and_goes_when_back_online(open_chat, width, height, scheme):
    page = open_chat(width, height, scheme)
    ask(page, "what is zometa?")
    page.context.set_offline(True)
    send(page, "what is vertebroplasty")
    bubble = page.locator(".qa-pending")
    expect(bubble).to_contain_text("what is vertebroplasty")  # on screen, not lost
    expect(bubble).to_contain_text("Not sent: you are offline")
    expect(bubble.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.locator("#qa-box textarea")).to_have_value("")
    assert page.locator(".toast-body").count() == 0  # said in the conversation, no toast over the title
    assert in_viewport(page, bubble)["in_window"]
    assert axe_violations(page) == []
    shot(page, f"offline-not-sent-{scheme}", (width, height))
    page.context.set_offline(False)  # back online: sent once by itself
    expect(page.locator(ANSWERS)).to_have_count(2)
    expect(page.locator(ANSWERS).last).to_contain_text("cement")
    expect(bubble).to_have_count(0)
    assert page.locator(QUESTIONS).all_inner_texts() == ["what is zometa?", "what is vertebroplasty"]


def test_a_dropped_request_offers_retry_and_retry_sends_it(open_chat):
    page = open_chat(390, 844)
    failed = []

    def drop(route):
        failed.append(route.request.url)
        route.abort("connectionreset")

    loads = []
    page.on("load", lambda _: loads.append(1))
    page.route(JOIN, drop)  # the connection drops: the first try and the one automatic retry fail
    send(page, "what is xgeva?")
    # Gradio reloads the page when the server answers again; the question is sent again after
    # the first reload, and after the second it waits for the person.
    for _ in range(300):
        if len(loads) >= 2:
            break
        page.wait_for_timeout(100)
    page.wait_for_function("window.qaChat !== undefined")
    bubble = page.locator(".qa-pending")
    expect(bubble).to_contain_text("what is xgeva?")
    expect(bubble).to_contain_text("Not sent: the connection failed.")
    expect(bubble).not_to_contain_text("Trying again")
    assert len(failed) == 2 and len(loads) == 2
    assert page.locator(".toast-body:visible").count() == 0  # said in the conversation, not a notice over it
    page.unroute(JOIN)
    bubble.get_by_role("button", name="Retry").click()
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(page.locator(ANSWERS).first).to_contain_text("Denosumab")
    assert page.locator(QUESTIONS).all_inner_texts() == ["what is xgeva?"]


def test_on_a_slow_link_the_question_shows_at_once_and_is_answered_once(open_chat):
    page = open_chat(390, 844)
    held = []
    page.route(JOIN, lambda route: held.append(route))  # a slow network: the request waits until the test lets it go
    send(page, "what is zometa?")
    bubble = page.locator(".qa-pending")
    expect(bubble).to_contain_text("what is zometa?")
    expect(bubble).to_contain_text("Sending…")
    expect(page.locator("#qa-box textarea")).to_have_value("")
    shot(page, "slow-sending", (390, 844))
    page.wait_for_function("() => true")
    assert len(held) == 1
    held[0].continue_()  # the slow request arrives
    page.unroute(JOIN)
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(bubble).to_have_count(0)
    assert page.locator(QUESTIONS).all_inner_texts() == ["what is zometa?"]


def test_a_reload_mid_answer_keeps_and_sends_the_pending_and_kept_questions(open_chat, slow_answers):
    page = open_chat(1280, 900)
    ask(page, "what is zometa?")
    send(page, "what are its side effects?")  # being answered
    send(page, "what is vertebroplasty")  # waiting its turn
    expect(page.locator(".qa-pending")).to_have_count(2)
    page.reload(wait_until="load")
    # After the reload both are sent again, in order, each answered once, with the conversation kept.
    expect(page.locator(ANSWERS)).to_have_count(3, timeout=30_000)
    expect(page.locator(".qa-pending")).to_have_count(0)
    assert page.locator(QUESTIONS).all_inner_texts() == ["what is zometa?", "what are its side effects?", "what is vertebroplasty"]
    expect(page.locator(ANSWERS).nth(1)).to_contain_text("side effects")  # "its" is still Zometa
    page.reload(wait_until="load")
    expect(page.locator(ANSWERS)).to_have_count(3)
    page.wait_for_timeout(500)
    assert page.locator(QUESTIONS).count() == 3  # nothing sent twice


def test_what_is_typed_survives_a_reload(open_chat):
    page = open_chat(390, 844)
    page.locator("#qa-box textarea").fill("my dad has pain in his hip at night, is that")
    page.reload(wait_until="load")
    expect(page.locator("#qa-box textarea")).to_have_value("my dad has pain in his hip at night, is that")


# --- 2. no jump on a desktop, no stale "New answer" --------------------------------


@pytest.mark.parametrize("touch", [False, True], ids=["mouse", "touch"])
@pytest.mark.parametrize("size", SIZES, ids=["phone", "desktop"])
def test_a_suggested_question_lands_in_view_with_no_stale_new_answer_button(open_chat, browser, live, size, touch, slow_answers):
    if touch:
        context = browser.new_context(viewport={"width": size[0], "height": size[1]}, has_touch=True, is_mobile=size[0] < 500)
        page = context.new_page()
        page.goto(live[0], wait_until="load")
        page.wait_for_function("window.qaChat !== undefined")
    else:
        page = open_chat(*size)
    ask(page, "what is zometa?")
    ask(page, "how do I renew my passport?")
    option = page.locator("#qa-chat button.option").first
    text = option.inner_text().strip()
    option.tap() if touch else option.click()  # a real mouse click (or a tap) on the suggestion
    expect(page.locator(ANSWERS)).to_have_count(3)
    page.wait_for_timeout(400)
    expect(page.locator(QUESTIONS).last).to_have_text(text)
    newest = page.locator(ANSWERS).last
    top = in_viewport(page, newest.locator("> *").first)
    assert top["in_chat"] or top["top"] >= 0, top  # the new answer's top is in view
    expect(page.locator("#qa-jump")).to_be_hidden()
    if touch:
        context.close()


def test_new_answer_button_goes_once_the_answer_is_in_view(open_chat, slow_answers):
    page = open_chat(1280, 900)
    ask(page, "what is zometa?")
    ask(page, "what are its side effects?")
    send(page, "what is vertebroplasty")
    log = page.locator("#qa-chat [role=log]")
    log.hover()
    page.mouse.wheel(0, -5000)  # reading further up while the answer comes
    expect(page.locator(ANSWERS)).to_have_count(3)
    jump = page.locator("#qa-jump")
    expect(jump).to_be_visible()
    page.mouse.wheel(0, 5000)  # the reader scrolls down to it themselves
    expect(jump).to_be_hidden()


# --- 3. feedback that matches its words ----------------------------------------------


@pytest.mark.parametrize("width,height,scheme", LOOKS[:2], ids=LOOK_IDS[:2])
def test_votes_keep_their_state_save_what_the_footer_says_and_take_a_reason(open_chat, live, width, height, scheme):
    page = open_chat(width, height, scheme)
    feedback = live[1]
    before = feedback.read_text().count("\n") if feedback.exists() else 0
    ask(page, "I'm 67 and on tamoxifen, what is zometa?")
    first = page.locator('[data-testid="bot"]').first.locator("xpath=..")
    up, down = first.get_by_role("button", name="Helpful", exact=True), first.get_by_role("button", name="Not helpful")
    # Thumbs-up comes first in the page, so first for Tab too.
    tools = first.locator(".qa-tools button")
    assert [tools.nth(i).get_attribute("aria-label") or tools.nth(i).inner_text() for i in range(3)] == [
        "Helpful", "Not helpful", "Copy answer"]
    up.focus()
    page.keyboard.press("Tab")
    expect(down).to_be_focused()
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    note = page.locator(".qa-feedback")
    expect(note).to_contain_text("was saved")
    expect(note).to_be_hidden(timeout=15_000)  # the saved line fades away
    ask(page, "what are its side effects?")
    expect(up).to_have_attribute("aria-pressed", "true")  # still shown after a later question
    second = page.locator('[data-testid="bot"]').nth(1).locator("xpath=..")
    second.get_by_role("button", name="Not helpful").click()
    reason = second.locator("form.qa-reason")
    expect(reason.get_by_role("group", name="What was wrong? (optional)")).to_be_visible()
    box = reason.get_by_role("textbox")
    assert box.get_attribute("maxlength") == "200"
    reason.get_by_role("radio", name="Hard to understand").check()
    box.fill("x" * 250)  # the field takes 200 characters at most
    assert len(box.input_value()) == 200
    shot(page, f"vote-reason-{scheme}", (width, height))
    assert axe_violations(page) == []
    reason.get_by_role("button", name="Send reason").click()
    expect(page.locator(".qa-feedback")).to_contain_text("your reason for")
    expect(reason).to_have_count(0)
    lines = feedback_lines(page, feedback, before + 3)[before:]
    assert [(r["vote"], r["reason"]) for r in lines] == [("up", None), ("down", None), ("down", "hard")]
    assert lines[2]["reason_text"] == "x" * 200 and lines[2]["question"] == "what are its side effects?"
    # Nothing else of the conversation: not the earlier question with the age and the medicine.
    # (The medicine, which no source names; not "67", which a source's file name holds.)
    assert all("history" not in r and "tamoxifen" not in json.dumps(r).lower() for r in lines[1:]), lines
    footer = page.locator(".qa-footer").first.inner_text()
    assert "saves that question, the answer with its sources, and the reason you choose" in footer
    assert "nothing else from the conversation" in footer
    page.reload(wait_until="load")
    expect(page.locator(ANSWERS)).to_have_count(2)
    after = page.locator(".qa-tools")
    expect(after.nth(0).get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(after.nth(1).get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    expect(after.nth(1).get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "false")


# --- 5. reading ------------------------------------------------------------------------


@pytest.mark.parametrize("width,height,scheme", LOOKS, ids=LOOK_IDS)
def test_markers_box_label_heading_footer_and_new_conversation_with_undo(open_chat, width, height, scheme):
    page = open_chat(width, height, scheme)
    box = page.get_by_label("Your question")
    expect(box).to_be_visible()
    expect(page.locator("#qa-box").get_by_text("Your question", exact=True)).to_be_visible()  # a label, not only a placeholder
    assert box.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 16  # phones do not zoom in on focus
    answer = ask(page, "what is xgeva?")
    ref = answer.locator("a.qa-ref").first
    assert ref.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 12
    ref.scroll_into_view_if_needed()
    target = ref.evaluate("""el => { const r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
      return [[-12, 0], [12, 0], [0, -12], [0, 12]].every(([dx, dy]) => el.contains(document.elementFromPoint(x + dx, y + dy))); }""")
    assert target  # at least 24 x 24 px to tap
    expect(answer.get_by_role("heading", name="Sources")).to_have_count(1)
    # No developer link, no lone "·" under the chat (Gradio's footer is left out).
    assert page.get_by_text("Use via API").count() == 0 and page.locator("footer a, footer button").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the window
    save = page.locator("#qa-save-menu summary")
    assert save.bounding_box()["x"] + save.bounding_box()["width"] <= width
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(ANSWERS)).to_have_count(0)
    expect(box).to_be_focused()  # ready for the next question
    undo = page.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    expect(page.locator("#qa-status")).to_have_text("Conversation cleared.")
    shot(page, f"new-conversation-undo-{scheme}", (width, height))
    assert axe_violations(page) == []
    undo.click()
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(undo).to_be_hidden()
    page.reload(wait_until="load")
    expect(page.locator(ANSWERS)).to_have_count(1)  # the conversation is kept again
    expect(page.locator(QUESTIONS)).to_have_text(["what is xgeva?"])


def test_the_api_link_is_there_only_when_asked_for(assistant, browser, tmp_path):
    import app

    demo = app.build_app(assistant, tmp_path / "f.jsonl", show_api=True)
    port = live_app.free_port()
    app.launch(demo, "127.0.0.1", port, block=False)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        expect(page.locator("footer")).to_contain_text("API")
        page.close()
    finally:
        demo.close()


# --- 4. take it to the doctor ----------------------------------------------------------


def test_print_shows_the_whole_conversation_with_sources_open_and_the_date(open_chat):
    page = open_chat(390, 844)
    for question in ("what is zometa?", "what are its side effects?", "what is vertebroplasty"):
        ask(page, question)
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")  # what the browser does as it prints
    head = page.locator("#qa-print-head")
    expect(head).to_be_visible()
    expect(head).to_contain_text(re.compile(r"Conversation printed \d{1,2} \w{3} \d{4}, \d\d:\d\d"))
    clipped = page.evaluate("""() => Array.from(document.querySelectorAll('#qa-chat *')).filter(el =>
        el.scrollHeight > el.clientHeight + 1 && getComputedStyle(el).overflowY !== 'visible').length""")
    assert clipped == 0  # no scroll box cuts the conversation on paper
    sources = page.locator("#qa-chat details.qa-source")
    assert sources.count() >= 3 and all(sources.nth(i).get_attribute("open") is not None for i in range(sources.count()))
    for hidden in ("#qa-box", "#qa-actions", ".qa-tools"):
        assert page.locator(hidden).first.is_hidden(), hidden
    assert page.locator(".qa-time").count() == 6  # every message with its time
    shot(page, "print", (390, 844))
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    page.emulate_media(media="screen")
    assert page.locator("#qa-chat details.qa-source[open]").count() == 0  # as they were


@pytest.mark.parametrize("kind", ["text", "web page"])
def test_the_conversation_downloads_as_text_or_a_web_page(open_chat, kind):
    page = open_chat(1280, 900)
    ask(page, "what is zometa?")
    ask(page, "my back hurts and my legs are numb and weak, should I wait?")
    page.get_by_text("Save or print conversation").click()
    with page.expect_download() as info:
        page.get_by_role("button", name=f"Download as {kind}").click()
    download = info.value
    assert re.fullmatch(r"bone-metastasis-conversation-\d{4}-\d\d-\d\d\.(txt|html)", download.suggested_filename)
    saved = Path(download.path()).read_text(encoding="utf-8")
    assert "what is zometa?" in saved and "should I wait?" in saved
    assert "Zometa" in saved and "Urgent" in saved and "not medical advice" in saved
    assert re.search(r"saved \d{1,2} \w{3} \d{4}, \d\d:\d\d", saved)  # when it was saved
    assert re.search(r"You \(\d{1,2} \w{3} \d{4}, \d\d:\d\d\)", saved)  # when each question was asked
    if kind == "text":
        assert "\nSources:\n[1] " in saved and "<" not in saved
    else:
        assert saved.startswith("<!DOCTYPE html>") and "<button" not in saved
        assert re.search(r"<details[^>]* open", saved) and not re.search(r"<details(?![^>]* open)", saved)  # sources open
        assert "<script" not in saved


# --- 6. kinder refusals --------------------------------------------------------------


@pytest.mark.parametrize("width,height,scheme", LOOKS[:2], ids=LOOK_IDS[:2])
def test_an_outlook_refusal_is_one_sentence_with_the_care_team_and_a_cited_support_line(open_chat, width, height, scheme):
    page = open_chat(width, height, scheme)
    answer = ask(page, "what is the survival rate for bone mets?")
    message = answer.locator(".qa-abstain > p").first.inner_text()
    assert len(re.findall(r"[.!?](\s|$)", message)) == 1 and "care team" in message
    support = answer.locator(".qa-support")
    expect(support).to_contain_text("Helpline")
    ref = support.locator("a.qa-ref").first
    n = ref.inner_text().strip()
    ref.click()  # the support line is cited like any quote
    source = answer.locator("details.qa-source").filter(has=page.locator(".qa-num", has_text=n))
    expect(source).to_have_attribute("open", "")
    assert "Helpline" in source.locator(".qa-quote").inner_text()
    expect(page.locator("#qa-chat button.option")).to_have_count(3)
    assert axe_violations(page) == []
    answer.evaluate("el => el.closest('.message-row').scrollIntoView({block: 'start'})")
    shot(page, f"outlook-refusal-{scheme}", (width, height))
