// The chat page's behaviour that Gradio has no setting for; app.py puts it in <head>.
// - No question is lost: the page, not Gradio, sends each question (Enter, Ask, an example,
//   a suggestion). It stays on screen as a bubble marked "Sending…", "Waiting" or "Not sent"
//   (with Retry) until its answer arrives, is kept in the browser's storage so a reload
//   sends it again, and is sent again once by itself when the connection comes back.
// - A new answer is scrolled so its top (urgent notice first) is in view, unless the reader
//   has scrolled up: then their place is kept and "New answer ↓" shows below the chat.
// - Under each answer: 👍, 👎 (with an optional reason) and "Copy answer"; votes show again
//   after later questions and reloads. [n] opens and shows source n.
// - "Save or print conversation"; "New conversation" with Undo for a few seconds.
// - Gradio's markup is made accessible: plain message labels, no list holding buttons.
(() => {
  "use strict";
  const QUEUE_KEY = "bone-mets-qa-unanswered"; // questions sent and not yet answered
  const DRAFT_KEY = "bone-mets-qa-draft"; // what is typed in the box, not yet sent
  const UNDO_MS = 10000; // how long "Undo" shows after New conversation
  const REASONS = [ // as qa/apps/conversation.py REASONS
    ["wrong", "Wrong or misleading"], ["not-my-question", "Not my question"], ["hard", "Hard to understand"],
    ["out-of-date", "Out of date"], ["other", "Other"],
  ];
  const MAX_REASON_CHARS = 200;
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const textarea = () => $("#qa-box textarea");
  const chatLog = () => $("#qa-chat [role=log]");
  const bots = () => $$('#qa-chat [data-testid="bot"]');
  const users = () => $$('#qa-chat [data-testid="user"]');
  const rowOf = (message) => message.closest(".message-row") || message;
  const seen = { bots: 0, users: 0 };
  let follow = true; // the reader is following the conversation (not scrolled up to read)
  let ourScrollUntil = 0; // scroll events before this time are ours, not the reader's
  let unseen = null; // an answer that arrived while the reader was scrolled up

  // --- the questions this page owns until they are answered -------------------------------

  const AUTO_TRIES = 2; // a question goes by itself at most twice after failures; then Retry sends it
  let queue = loadQueue(); // [{id, text, time, fails, state: "waiting" | "sending" | "failed"}]
  let inflight = null; // the id of the question being sent
  let ready = false; // the kept conversation is back (sending before would overwrite it)
  let retryTimer = 0;
  let voteToSend = null; // the vote voting() hands to the server

  function loadQueue() {
    try {
      const kept = JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
      // One that was being sent when the page went away is sent again (never answered twice),
      // unless it already failed twice: then it waits for Retry.
      return Array.isArray(kept) ? kept.filter((q) => q && typeof q.text === "string" && q.id)
        .map((q) => ({ ...q, fails: Number(q.fails) || 0, state: Number(q.fails) >= AUTO_TRIES ? "failed" : "waiting" })) : [];
    } catch {
      return [];
    }
  }

  function saveQueue() {
    try {
      localStorage.setItem(QUEUE_KEY, JSON.stringify(queue.map(({ id, text, time, fails }) => ({ id, text, time, fails }))));
    } catch { /* storage full or off: the questions stay on screen */ }
  }

  function newId() {
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }

  function submit(text) {
    if (!text.trim()) return;
    queue.push({ id: newId(), text, time: new Date().toISOString(), fails: 0, state: "waiting" });
    saveQueue();
    follow = true;
    renderQueue();
    scrollToEnd();
    pump();
  }

  function pump() {
    // Send the first question not yet answered, one at a time, in the order asked.
    if (!ready || inflight || !queue.length) return renderQueue();
    const head = queue[0];
    if (head.state === "failed") return renderQueue(); // Retry, or the connection coming back, sends it
    if (!navigator.onLine) return fail(head);
    head.state = "sending";
    inflight = head.id;
    renderQueue();
    $("#qa-send")?.click();
  }

  function sending(values) {
    // The question event's inputs (app.py SEND_JS): the question with its id and time first.
    const item = queue.find((q) => q.id === inflight);
    const payload = item ? JSON.stringify({ id: item.id, text: item.text, time: item.time,
      offset: -new Date().getTimezoneOffset() }) : "";
    return [payload, ...values.slice(1)];
  }

  function settled(done) {
    // After the question event, answered or not (app.py SETTLED_JS): `done` is the id answered.
    const item = queue.find((q) => q.id === inflight);
    inflight = null;
    if (item && done === item.id) {
      queue = queue.filter((q) => q !== item);
      saveQueue();
      if (!busy()) setStatus("");
    } else if (item) {
      fail(item);
    }
    pump();
  }

  function fail(item, reloading = false) {
    item.state = "failed";
    item.fails += 1;
    saveQueue();
    renderQueue();
    setStatus(navigator.onLine ? "Your question was not sent." : "You are offline: your question was not sent.");
    // Once more by itself: when the device is back online (the "online" event), when Gradio
    // reloads the page on reconnecting (`reloading`), or else in a moment.
    if (item.fails < AUTO_TRIES && navigator.onLine && !reloading) {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => retry(true), 3000);
    }
  }

  function connectionLost() {
    // Gradio lost its connection to the server (its "Connection Lost" notice, hidden by
    // web/chat.css): the question in flight gets no answer. Gradio reloads the page once the
    // server answers again, and the question, kept in the browser's storage, goes again then.
    const item = queue.find((q) => q.id === inflight);
    inflight = null;
    if (item) fail(item, true);
  }

  function retry(automatic) {
    const head = queue[0];
    if (!head || head.state !== "failed" || (automatic && head.fails >= AUTO_TRIES)) return;
    head.state = "waiting";
    pump();
  }

  function pendingHtml(item, first) {
    const bubble = document.createElement("div");
    bubble.className = "qa-pending";
    bubble.dataset.id = item.id;
    const question = document.createElement("div");
    question.className = "qa-question";
    question.textContent = item.text; // shown as typed, never as HTML
    const state = document.createElement("p");
    state.className = "qa-pending-state";
    if (item.state === "failed") {
      bubble.classList.add("qa-not-sent");
      state.textContent = !navigator.onLine ? "Not sent: you are offline. It is sent again when the connection is back."
        : item.fails < AUTO_TRIES ? "Not sent: the connection failed. Trying again in a moment…"
          : "Not sent: the connection failed.";
      const again = document.createElement("button");
      again.type = "button";
      again.className = "qa-retry";
      again.textContent = "Retry";
      state.append(" ", again);
    } else if (item.state === "sending" || first) {
      state.textContent = "Sending…";
    } else {
      state.textContent = "Waiting: sent as soon as the answer above arrives.";
    }
    bubble.append(question, state);
    return bubble;
  }

  function renderQueue() {
    const log = chatLog();
    if (!log) return;
    let list = $(".qa-pending-list", log);
    // Shown until the answer is in the chat (its answer carries the question's id).
    const shown = queue.filter((q) => !document.getElementById(`qa-a-${q.id}`));
    const key = JSON.stringify(shown.map((q) => [q.id, q.state, q.fails])) + navigator.onLine;
    if (list && list.dataset.key === key && log.lastElementChild === list) return;
    if (!list) {
      list = document.createElement("div");
      list.className = "qa-pending-list";
    }
    list.dataset.key = key;
    list.replaceChildren(...shown.map((q, i) => pendingHtml(q, i === 0)));
    if (log.lastElementChild !== list) log.appendChild(list); // after Gradio's messages
    if (follow && shown.length) scrollToEnd(); // the question and its state in view
  }

  window.addEventListener("online", () => {
    setStatus("");
    renderQueue();
    retry(true);
  });
  window.addEventListener("offline", () => renderQueue());

  // --- the question box: what is typed survives a reload -----------------------------------

  function setBox(text) {
    const box = textarea();
    if (!box) return;
    box.value = text;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    saveDraft();
  }

  function saveDraft() {
    try {
      const text = textarea()?.value || "";
      if (text) localStorage.setItem(DRAFT_KEY, text);
      else localStorage.removeItem(DRAFT_KEY);
    } catch { /* no storage */ }
  }

  function restoreDraft() {
    const box = textarea();
    let draft = "";
    try {
      draft = localStorage.getItem(DRAFT_KEY) || "";
    } catch { /* no storage */ }
    if (box && draft && !box.value) setBox(draft);
  }

  function sendBox() {
    const box = textarea();
    if (!box) return;
    const text = box.value;
    if (!text.trim()) return;
    setBox("");
    submit(text);
    box.focus();
  }

  // --- scrolling ---------------------------------------------------------------------------

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

  function busy() {
    return queue.length > 0;
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

  function reached(message) {
    // The reader can see the answer (part of it, 40 px or more): "New answer" has done its job.
    const box = scroller();
    if (!box) return true;
    const row = rowOf(message).getBoundingClientRect(), rect = box.getBoundingClientRect();
    return Math.min(row.bottom, rect.bottom) - Math.max(row.top, rect.top) >= 40;
  }

  function showJump(message) {
    if (reached(message)) return hideJump(); // already in view: nothing to jump to
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
    if (unseen && (!unseen.isConnected || reached(unseen))) hideJump(); // the reader has reached it
    if (Date.now() < ourScrollUntil) return;
    // Back at the end: following again. Only a reader's own gesture stops following
    // (onReaderScroll): layout shifts and the browser's scroll anchoring never do.
    const box = scroller();
    if (box.scrollHeight - box.scrollTop - box.clientHeight < 40) follow = true;
  }

  function onReaderScroll(event) {
    // Only a person makes these: scrolling up (wheel, finger, keys, the scroll bar) means reading.
    const up = event.type === "touchmove" || (event.type === "wheel" && event.deltaY < 0) ||
      (event.type === "keydown" && ["PageUp", "ArrowUp", "Home"].includes(event.key)) ||
      (event.type === "pointerdown" && event.target === event.currentTarget);
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
      return;
    }
    if (answers.length > seen.bots) {
      const latest = answers[answers.length - 1];
      if (seen.bots === 0 && seen.users === 0) scrollToMessage(latest, false); // a kept conversation
      else if (follow) scrollToMessage(latest, false);
      else showJump(latest);
    }
    seen.bots = answers.length;
    seen.users = questions.length;
  }

  // --- sources and copying -----------------------------------------------------------------

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
    $("summary", source).focus();
    source.classList.add("qa-flash");
    setTimeout(() => source.classList.remove("qa-flash"), 1500);
  }

  function answerText(answer) {
    // The answer as plain text: urgent notice, answer, sources with their pages, reminder.
    const lines = [];
    const urgent = $(".qa-urgent", answer);
    if (urgent) lines.push(urgent.innerText.trim(), "");
    for (const part of $$(".qa-note, .qa-units, .qa-unanswered, .qa-abstain, .qa-error, .qa-confidence, .qa-help", answer)) {
      lines.push(part.innerText.trim());
    }
    const sources = $$("details.qa-source", answer);
    if (sources.length) lines.push("", "Sources:");
    for (const source of sources) {
      lines.push($("summary", source).textContent.replace(/\s+/g, " ").trim());
      const link = $(".qa-link a", source);
      if (link) lines.push(`    ${link.href}`);
    }
    const reminder = $(".qa-disclaimer", answer);
    if (reminder) lines.push("", reminder.textContent.trim());
    return lines.join("\n").replace(/\n{3,}/g, "\n\n").trim();
  }

  async function copyText(text, button) {
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
  }

  async function copyAnswer(button) {
    const answer = $(".qa-answer", button.closest(".message"));
    if (!answer) return;
    await copyText(answerText(answer), button);
    setStatus("Answer copied.");
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy answer"), 2000);
  }

  // --- votes -------------------------------------------------------------------------------

  function votes() {
    try {
      return JSON.parse($("#qa-votes textarea")?.value || "{}") || {};
    } catch {
      return {};
    }
  }

  function messageIndex(bot) {
    // The answer's place in the conversation, as the server counts it.
    return $$('#qa-chat [data-testid="user"], #qa-chat [data-testid="bot"]').indexOf(bot);
  }

  // A thumb drawn here (no emoji font needed); thumbs-down is the same turned over.
  const THUMB = '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">' +
    '<path d="M2.5 10.5h4v10h-4zM8.5 10.5l3.5-8c1.6 0 3 1.3 3 3v3h5c1.2 0 2.1 1 1.9 2.2l-1.4 8.3' +
    'c-.2 1-1 1.5-2 1.5H8.5z" fill="var(--qa-thumb-fill, none)" stroke="currentColor" stroke-width="1.8" ' +
    'stroke-linejoin="round"/></svg>';

  function voteButton(vote, label) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `qa-vote qa-vote-${vote}`;
    button.dataset.vote = vote;
    button.setAttribute("aria-label", label);
    button.title = label;
    button.setAttribute("aria-pressed", "false");
    button.innerHTML = THUMB;
    return button;
  }

  function addTools(bot) {
    // 👍 before 👎 in the page and in Tab order, then "Copy answer".
    const message = bot.closest(".message");
    if (!message || $(".qa-tools", message) || !$(".qa-answer", bot) || $(".qa-answer > .qa-error", bot)) return;
    const tools = document.createElement("div");
    tools.className = "qa-tools";
    tools.setAttribute("role", "group");
    tools.setAttribute("aria-label", "Rate or copy this answer");
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "qa-copy";
    copy.textContent = "Copy answer";
    tools.append(voteButton("up", "Helpful"), voteButton("down", "Not helpful"), copy);
    message.appendChild(tools);
  }

  function showVotes() {
    const given = votes();
    for (const bot of bots()) {
      const tools = $(".qa-tools", bot.closest(".message") || bot);
      if (!tools) continue;
      const index = messageIndex(bot);
      const vote = tools.dataset.sending || given[index]?.vote || "";
      for (const button of $$(".qa-vote", tools)) {
        const pressed = String(button.dataset.vote === vote);
        if (button.getAttribute("aria-pressed") !== pressed) button.setAttribute("aria-pressed", pressed);
      }
      if (given[index] && tools.dataset.sending === given[index].vote) delete tools.dataset.sending;
    }
  }

  function sendVote(bot, vote, reason = "", words = "") {
    if (!navigator.onLine) {
      setStatus("You are offline: your vote was not sent. Try again when the connection is back.");
      return false;
    }
    voteToSend = { index: messageIndex(bot), vote, reason, words };
    $("#qa-rate")?.click();
    return true;
  }

  function voting(values) {
    // The vote event's inputs (app.py VOTE_JS): the vote first.
    const payload = voteToSend ? JSON.stringify(voteToSend) : "";
    voteToSend = null;
    return [payload, ...values.slice(1)];
  }

  function onVote(button) {
    const message = button.closest(".message"), bot = $('[data-testid="bot"]', message);
    const tools = button.closest(".qa-tools");
    const vote = button.dataset.vote;
    if (!bot || button.getAttribute("aria-pressed") === "true") {
      if (vote === "down") toggleReason(message, tools, true);
      return;
    }
    if (!sendVote(bot, vote)) return;
    tools.dataset.sending = vote; // shown at once; the server's record follows
    showVotes();
    toggleReason(message, tools, vote === "down");
  }

  function toggleReason(message, tools, open) {
    let form = $(".qa-reason", message);
    if (!open) return form?.remove();
    if (form) return;
    const n = messageIndex($('[data-testid="bot"]', message));
    form = document.createElement("form");
    form.className = "qa-reason";
    const set = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = "What was wrong? (optional)";
    set.append(legend);
    for (const [value, label] of REASONS) {
      const choice = document.createElement("label");
      const radio = document.createElement("input");
      Object.assign(radio, { type: "radio", name: `qa-reason-${n}`, value });
      choice.append(radio, ` ${label}`);
      set.append(choice);
    }
    const wordsLabel = document.createElement("label");
    wordsLabel.className = "qa-reason-words";
    const words = document.createElement("input");
    Object.assign(words, { type: "text", maxLength: MAX_REASON_CHARS, name: "words" });
    wordsLabel.append(`Anything to add? (up to ${MAX_REASON_CHARS} characters)`, words);
    const send = document.createElement("button");
    send.type = "submit";
    send.textContent = "Send reason";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "qa-reason-close";
    close.textContent = "No thanks";
    const actions = document.createElement("div");
    actions.className = "qa-reason-actions";
    actions.append(send, close);
    set.append(wordsLabel, actions);
    form.append(set);
    tools.after(form);
  }

  function onReason(form) {
    const message = form.closest(".message"), bot = $('[data-testid="bot"]', message);
    const reason = $("input[type=radio]:checked", form)?.value || "";
    const words = $("input[name=words]", form).value.trim().slice(0, MAX_REASON_CHARS);
    if (!reason && !words) {
      setStatus("Choose what was wrong, or write a few words, then Send reason.");
      return;
    }
    if (sendVote(bot, "down", reason || "other", words)) {
      form.remove();
      $(".qa-vote-down", message)?.focus();
    }
  }

  // --- New conversation, with Undo ----------------------------------------------------------

  let undoTimer = 0;
  let putAside = [];

  function cleared() {
    // New conversation (app.py NEW_JS): questions not yet sent go too, until Undo.
    putAside = queue.filter((q) => q.id !== inflight);
    queue = queue.filter((q) => q.id === inflight);
    saveQueue();
    renderQueue();
    hideJump();
    setStatus("Conversation cleared.");
    const undo = $("#qa-undo-new");
    if (undo) undo.hidden = false;
    clearTimeout(undoTimer);
    undoTimer = setTimeout(endUndo, UNDO_MS);
    textarea()?.focus();
  }

  function endUndo() {
    const undo = $("#qa-undo-new");
    if (undo) undo.hidden = true;
    if ($("#qa-status")?.textContent === "Conversation cleared.") setStatus("");
    putAside = [];
  }

  function undoClear() {
    clearTimeout(undoTimer);
    queue = [...putAside, ...queue];
    putAside = [];
    saveQueue();
    $("#qa-undo")?.click();
    const undo = $("#qa-undo-new");
    if (undo) undo.hidden = true;
    setStatus("Conversation restored.");
    textarea()?.focus();
    pump();
  }

  // --- save or print -----------------------------------------------------------------------

  function stamp(date = new Date()) {
    const months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getDate()} ${months[date.getMonth()]} ${date.getFullYear()}, ${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  function conversation() {
    // [{who: "You" | "Assistant", time, node}] in order.
    return $$('#qa-chat [data-testid="user"], #qa-chat [data-testid="bot"]').map((node) => ({
      who: node.dataset.testid === "user" ? "You" : "Assistant",
      time: $(".qa-time", node)?.textContent.trim() || "",
      node,
    }));
  }

  function asText() {
    const title = document.title || "Bone metastasis Q&A";
    const lines = [`${title}: conversation saved ${stamp()}`, "",
      "Educational information from the listed sources, not medical advice. Talk to your care team about your own care.", ""];
    for (const { who, time, node } of conversation()) {
      lines.push(`${who}${time ? ` (${time})` : ""}:`);
      const answer = $(".qa-answer", node);
      lines.push(answer ? answerText(answer) : ($(".qa-question", node)?.innerText.trim() || ""), "");
    }
    return lines.join("\n");
  }

  function asHtml() {
    const title = document.title || "Bone metastasis Q&A";
    const body = conversation().map(({ who, time, node }) => {
      const copy = ($(".qa-answer", node) || $(".qa-question", node) || node).cloneNode(true);
      for (const details of $$("details", copy)) details.setAttribute("open", "");
      for (const extra of $$("button, form, script, .qa-time", copy)) extra.remove();
      const label = who + (time ? ` (${time})` : "");
      return `<section class="${who === "You" ? "you" : "assistant"}"><h2>${label}</h2>${copy.outerHTML}</section>`;
    }).join("\n");
    const style = "body{font:16px/1.5 system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;color:#111}" +
      "h2{font-size:1em;margin:1.5em 0 .3em}.you{border-top:1px solid #999}.qa-urgent{border:2px solid #b91c1c;padding:.5em}" +
      "blockquote{border-left:3px solid #999;margin:.4em 0;padding-left:.7em}mark{background:#fde68a}" +
      "details>summary{list-style:none;font-weight:600}h2.qa-sources-title{font-size:1em}";
    return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}: conversation</title>` +
      `<style>${style}</style></head><body><h1>${title}</h1><p>Conversation saved ${stamp()}. Educational ` +
      "information from the listed sources, not medical advice. Talk to your care team about your own care.</p>\n" +
      `${body}\n</body></html>\n`;
  }

  function download(text, type, extension) {
    const day = new Date().toISOString().slice(0, 10);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
    link.download = `bone-metastasis-conversation-${day}.${extension}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    setStatus(`Conversation saved as ${link.download}.`);
  }

  function printConversation() {
    $("#qa-save-menu")?.removeAttribute("open");
    window.print();
  }

  // On paper every source is open, and a line says what this is and when it was printed.
  let closedForPrint = [];
  window.addEventListener("beforeprint", () => {
    closedForPrint = $$("#qa-chat details.qa-source:not([open])");
    for (const details of closedForPrint) details.open = true;
    let head = $("#qa-print-head");
    if (!head) {
      head = document.createElement("p");
      head.id = "qa-print-head";
      $("#qa-chat")?.before(head);
    }
    head.textContent = `Conversation printed ${stamp()}. Educational information from the listed sources, not medical advice.`;
  });
  window.addEventListener("afterprint", () => {
    for (const details of closedForPrint) details.open = false;
    closedForPrint = [];
  });

  // --- Gradio's markup, made accessible; events -------------------------------------------

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
    for (const bot of bots()) addTools(bot);
    const note = $("#qa-feedback-note");
    if (note && !note.hasAttribute("role")) {
      note.setAttribute("role", "status");
      note.setAttribute("aria-live", "polite");
    }
    const saved = $("#qa-feedback-note .qa-feedback");
    if (saved && !saved.dataset.qaShown) {
      saved.dataset.qaShown = "1"; // a new line: shown until it has faded (web/chat.css)
      note.classList.remove("qa-faded");
      saved.addEventListener("animationend", () => note.classList.add("qa-faded"), { once: true });
    }
    // The page's own hidden controls (app.py) are never reached by Tab or read out.
    for (const hidden of $$("#qa-wire, #qa-done, #qa-votes, #qa-send, #qa-rate, #qa-undo")) {
      if (!hidden.hasAttribute("aria-hidden")) hidden.setAttribute("aria-hidden", "true");
    }
  }

  function onClick(event) {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const choice = target.closest("#qa-chat button.example, #qa-chat button.option");
    if (choice) {
      // Sent like a typed question; the focus stays in the box.
      event.preventDefault();
      event.stopImmediatePropagation();
      submit(($(".example-text", choice) || choice).textContent.trim());
      textarea()?.focus();
      return;
    }
    if (target.closest("#qa-box button")) {
      // Ask: the page sends the question (Gradio's own submit would lose it offline).
      event.preventDefault();
      event.stopImmediatePropagation();
      sendBox();
      return;
    }
    if (target.closest("#qa-new") && inflight) {
      event.preventDefault();
      event.stopImmediatePropagation();
      setStatus("An answer is on its way: start a new conversation when it has arrived.");
      return;
    }
    const ref = target.closest("#qa-chat a.qa-ref");
    if (ref) {
      event.preventDefault();
      return openSource(ref);
    }
    const vote = target.closest("#qa-chat button.qa-vote");
    if (vote) return onVote(vote);
    if (target.closest("#qa-chat button.qa-reason-close")) {
      const message = target.closest(".message");
      $(".qa-reason", message)?.remove();
      return $(".qa-vote-down", message)?.focus();
    }
    if (target.closest("#qa-chat button.qa-retry")) return retry(false);
    const copy = target.closest("#qa-chat button.qa-copy");
    if (copy) return copyAnswer(copy);
    if (target.closest("#qa-jump") && unseen) {
      scrollToMessage(unseen, true);
      return hideJump();
    }
    if (target.closest("#qa-undo-new")) return undoClear();
    if (target.closest("#qa-print")) return printConversation();
    if (target.closest("#qa-save-text")) return download(asText(), "text/plain", "txt");
    if (target.closest("#qa-save-html")) return download(asHtml(), "text/html", "html");
  }

  function onKeyDown(event) {
    // Enter (not Shift+Enter, not while composing) in the box sends through the page.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.target === textarea()) {
      event.preventDefault();
      event.stopImmediatePropagation();
      sendBox();
    }
  }

  function onSubmit(event) {
    const form = event.target instanceof Element ? event.target.closest("#qa-chat form.qa-reason") : null;
    if (!form) return;
    event.preventDefault();
    onReason(form);
  }

  let scheduled = false;
  function update() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      tidy();
      if (inflight && $$(".toast-body").some((toast) => /connection/i.test(toast.textContent))) connectionLost();
      onMessages();
      renderQueue();
      showVotes();
      const box = scroller();
      if (box && !box.dataset.qaWatched) {
        box.dataset.qaWatched = "1";
        box.addEventListener("scroll", onScroll, { passive: true });
        for (const type of ["wheel", "touchmove", "keydown", "pointerdown"]) {
          box.addEventListener(type, onReaderScroll, { passive: true });
        }
      }
      const draftBox = textarea();
      if (draftBox && !draftBox.dataset.qaDraft) {
        draftBox.dataset.qaDraft = "1";
        draftBox.addEventListener("input", saveDraft);
        restoreDraft();
      }
    });
  }

  function onReady() {
    // The kept conversation is back (app.py READY_JS): now the kept questions can go.
    ready = true;
    renderQueue();
    pump();
  }

  document.addEventListener("click", onClick, true);
  document.addEventListener("keydown", onKeyDown, true);
  document.addEventListener("submit", onSubmit, true);
  new MutationObserver(update).observe(document.documentElement, { childList: true, subtree: true });
  window.qaChat = { sending, settled, voting, cleared, ready: onReady, answerText, asText, asHtml };
})();
