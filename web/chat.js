// The chat page's behaviour that Gradio has no setting for; app.py puts it in <head>.
// - a new answer is scrolled so its top (urgent notice first) is in view, unless the
//   reader has scrolled up: then their place is kept and "New answer" shows below the chat;
// - examples and suggested questions are asked through the question box, so a question
//   sent while another is answered waits there (and the box keeps the focus);
// - [n] opens and shows source n; each answer gets a "Copy answer" button;
// - Gradio's markup is made accessible: plain message labels, no list holding buttons.
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const textarea = () => $("#qa-box textarea");
  const chatLog = () => $("#qa-chat [role=log]");
  const bots = () => $$('#qa-chat [data-testid="bot"]');
  const users = () => $$('#qa-chat [data-testid="user"]');
  const rowOf = (message) => message.closest(".message-row") || message;
  const seen = { bots: 0, users: 0 };
  let follow = true; // the reader is following the conversation (not scrolled up to read)
  let waiting = false; // a question was sent while another was being answered
  let ourScrollUntil = 0; // scroll events before this time are ours, not the reader's
  let unseen = null; // an answer that arrived while the reader was scrolled up

  function scroller() {
    // The element that scrolls the conversation (Gradio may wrap the log).
    for (let node = chatLog(); node; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && node.scrollHeight > node.clientHeight) return node;
      if (node.id === "qa-chat") break;
    }
    return chatLog();
  }

  function setStatus(text) {
    const status = $("#qa-status");
    if (status && status.textContent !== text) status.textContent = text;
  }

  function setBox(text) {
    const box = textarea();
    if (!box) return;
    box.value = text;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function busy() {
    return users().length > bots().length;
  }

  // Called by the question event as a question leaves (app.py's CLEAR_BOX_JS).
  function questionSent() {
    setBox("");
    follow = true;
    waiting = false;
    setStatus("Answering…");
  }

  function ask(text) {
    setBox(text);
    textarea()?.focus();
    if (busy()) noteWaiting();
    // Let Gradio take the new value before the question is sent.
    setTimeout(() => ($("#qa-box button.submit-button") || $("#qa-box button"))?.click(), 60);
  }

  function noteWaiting() {
    waiting = true;
    setStatus("Answering… Your next question is kept in the box and is sent as soon as this answer arrives.");
  }

  function scrollToMessage(message, focus) {
    const box = scroller();
    if (!box) return;
    ourScrollUntil = Date.now() + 400;
    const row = rowOf(message);
    box.scrollTop += row.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    // On a phone the page scrolls too: bring the answer's top into the window.
    const top = row.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight - 120) window.scrollBy(0, top - 8);
    if (focus) {
      message.setAttribute("tabindex", "-1");
      message.focus({ preventScroll: true });
    }
  }

  function scrollToEnd() {
    const box = scroller();
    if (!box) return;
    ourScrollUntil = Date.now() + 400;
    box.scrollTop = box.scrollHeight;
  }

  function showJump(message) {
    unseen = message;
    const jump = $("#qa-jump");
    if (jump) jump.hidden = false;
  }

  function hideJump() {
    unseen = null;
    const jump = $("#qa-jump");
    if (jump) jump.hidden = true;
  }

  function onScroll() {
    if (Date.now() < ourScrollUntil) return;
    const box = scroller();
    follow = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (unseen) {
      const top = rowOf(unseen).getBoundingClientRect().top, rect = box.getBoundingClientRect();
      if (top >= rect.top - 4 && top < rect.bottom - 40) hideJump(); // the reader has reached it
    }
  }

  function onReaderScroll(event) {
    // Only a person makes these: scrolling up (wheel, finger, keys) means they are reading.
    const up = event.type === "touchmove" || (event.type === "wheel" && event.deltaY < 0) ||
      (event.type === "keydown" && ["PageUp", "ArrowUp", "Home"].includes(event.key));
    if (up) {
      follow = false;
      ourScrollUntil = 0;
    }
  }

  function onMessages() {
    const answers = bots(), questions = users();
    if (questions.length === 0 && answers.length === 0) {
      if (seen.users || seen.bots) hideJump();
      seen.users = seen.bots = 0;
      follow = true;
      setStatus("");
      return;
    }
    if (answers.length > seen.bots) {
      const latest = answers[answers.length - 1];
      if (seen.bots === 0 && seen.users === 0) scrollToMessage(latest, false); // a kept conversation
      else if (follow) scrollToMessage(latest, false);
      else showJump(latest);
      if (!busy()) setStatus(waiting ? "Sending your next question…" : "");
    } else if (questions.length > seen.users && follow) {
      scrollToEnd(); // the question just sent, and the dots while it is answered
    }
    seen.bots = answers.length;
    seen.users = questions.length;
  }

  function sourceOf(ref) {
    // The chat's sanitizer drops data- attributes: "#source-2" and the summary's "[2]" pair them.
    const answer = ref.closest(".qa-answer");
    const n = (ref.getAttribute("href") || "").replace("#source-", "");
    if (!answer || !n) return null;
    return $$("details.qa-source", answer).find((source) => $(".qa-num", source)?.textContent.trim() === `[${n}]`) || null;
  }

  function openSource(ref) {
    const source = sourceOf(ref);
    if (!source) return;
    source.open = true;
    ourScrollUntil = Date.now() + 400;
    source.scrollIntoView({ block: "nearest" });
    const summary = $("summary", source);
    summary.focus();
    source.classList.add("qa-flash");
    setTimeout(() => source.classList.remove("qa-flash"), 1500);
  }

  function answerText(answer) {
    // The answer as plain text: urgent notice, answer, sources with their pages, reminder.
    const lines = [];
    const urgent = $(".qa-urgent", answer);
    if (urgent) lines.push(urgent.innerText.trim(), "");
    for (const part of $$(".qa-note, .qa-units, .qa-abstain, .qa-error, .qa-confidence, .qa-help", answer)) lines.push(part.innerText.trim());
    const sources = $$("details.qa-source", answer);
    if (sources.length) lines.push("", "Sources:");
    for (const source of sources) {
      lines.push($("summary", source).innerText.trim());
      const link = $(".qa-link a", source);
      if (link) lines.push(`    ${link.href}`);
    }
    const reminder = $(".qa-disclaimer", answer);
    if (reminder) lines.push("", reminder.innerText.trim());
    return lines.join("\n").replace(/\n{3,}/g, "\n\n").trim();
  }

  function answerAbove(buttons) {
    // Gradio puts a message's buttons after its row, not inside it.
    let row = buttons.previousElementSibling;
    while (row && !row.classList.contains("message-row")) row = row.previousElementSibling;
    return row ? $(".qa-answer", row) : null;
  }

  async function copyAnswer(button) {
    const answer = answerAbove(button.closest(".message-buttons"));
    if (!answer) return;
    const text = answerText(answer);
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard API (a page not served over https or from this machine): the old way.
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      button.focus();
    }
    setStatus("Answer copied.");
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy answer"), 2000);
  }

  function tidy() {
    // Gradio labels each message with its raw HTML: screen readers read the text itself instead.
    for (const message of $$('#qa-chat [data-testid="bot"][aria-label], #qa-chat [data-testid="user"][aria-label]')) {
      message.removeAttribute("aria-label");
    }
    // Example questions are buttons in a "list" that holds no list items: a group instead.
    for (const list of $$('#qa-chat .examples[role="list"]')) {
      list.setAttribute("role", "group");
      list.setAttribute("aria-label", "Example questions");
    }
    for (const link of $$('#qa-chat .qa-source a[href^="http"]')) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
    for (const buttons of $$("#qa-chat .message-buttons")) {
      if ($(".qa-copy", buttons) || !answerAbove(buttons)) continue;
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "qa-copy";
      copy.textContent = "Copy answer";
      (buttons.firstElementChild || buttons).appendChild(copy);
    }
    const note = $("#qa-feedback-note");
    if (note && !note.hasAttribute("role")) {
      note.setAttribute("role", "status");
      note.setAttribute("aria-live", "polite");
    }
  }

  function onClick(event) {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const choice = target.closest("#qa-chat button.example, #qa-chat button.option");
    if (choice) {
      // Asked through the box like a typed question, so it waits its turn.
      event.preventDefault();
      event.stopImmediatePropagation();
      const text = ($(".example-text", choice) || choice).textContent.trim();
      ask(text);
      return;
    }
    const ref = target.closest("#qa-chat a.qa-ref");
    if (ref) {
      event.preventDefault();
      openSource(ref);
      return;
    }
    if (target.closest("#qa-box button") && busy() && textarea()?.value.trim()) noteWaiting();
    const copy = target.closest("#qa-chat button.qa-copy");
    if (copy) {
      copyAnswer(copy);
      return;
    }
    if (target.closest("#qa-jump") && unseen) {
      scrollToMessage(unseen, true);
      hideJump();
    }
  }

  function onKeyDown(event) {
    // Enter (not Shift+Enter) in the box while an answer is pending: the question waits.
    if (event.key === "Enter" && !event.shiftKey && event.target === textarea() && busy() && textarea().value.trim()) {
      noteWaiting();
    }
  }

  let scheduled = false;
  function update() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      tidy();
      onMessages();
      const box = scroller();
      if (box && !box.dataset.qaWatched) {
        box.dataset.qaWatched = "1";
        box.addEventListener("scroll", onScroll, { passive: true });
        for (const type of ["wheel", "touchmove", "keydown"]) box.addEventListener(type, onReaderScroll, { passive: true });
      }
    });
  }

  document.addEventListener("click", onClick, true);
  document.addEventListener("keydown", onKeyDown, true);
  new MutationObserver(update).observe(document.documentElement, { childList: true, subtree: true });
  window.qaChat = { questionSent, answerText };
})();
