// Tracemark: processing a queue. Complete + Next, Skip and keyboard work without page reloads:
// the server answers with the next item rendered by the page's own template, swapped in here.
"use strict";

(() => {
  const root = document.getElementById("process");
  if (!root) return;

  const leaseSeconds = Number(root.dataset.leaseSeconds) || 600;
  const dialog = document.getElementById("shortcuts");
  const statusBox = document.getElementById("process-status");
  const guidelines = document.getElementById("guidelines");
  const GUIDELINES_KEY = "tracemark.process.guidelinesOpen";
  const VIEW_KEY = "tracemark.process.view";
  let busy = false;
  let heartbeatTimer = null;
  let statusTimer = null;

  const form = () => document.getElementById("score-form");
  const fields = () => Array.from(document.querySelectorAll("#score-form [data-field]"));
  const hasItem = () => Boolean(form() && form().dataset.itemId);
  const inHistory = () => Boolean(form() && form().dataset.mode === "history");

  // --- messages ------------------------------------------------------------------------

  function showStatus(message, kind, action) {
    window.clearTimeout(statusTimer);
    statusBox.replaceChildren();
    statusBox.className = "process-status " + (kind || "ok");
    statusBox.append(document.createTextNode(message));
    if (action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small";
      button.textContent = action.label;
      button.addEventListener("click", action.run);
      statusBox.append(" ", button);
    }
    statusBox.hidden = false;
    if (kind === "ok") {
      statusTimer = window.setTimeout(() => { statusBox.hidden = true; }, 2500);
    }
  }

  function showFormError(message) {
    const box = document.getElementById("form-error");
    if (!box) {
      showStatus(message, "error");
      return;
    }
    box.textContent = message;
    box.hidden = false;
  }

  function clearFormError() {
    const box = document.getElementById("form-error");
    if (box) box.hidden = true;
  }

  // --- fields and focus ----------------------------------------------------------------

  function isTyping(element) {
    if (!element || element === document.body) return false;
    if (element.isContentEditable) return true;
    const tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag === "INPUT") {
      return !["radio", "checkbox", "button", "submit", "reset"].includes(element.type);
    }
    return false;
  }

  function focusTarget(field) {
    return (
      field.querySelector("input[type=radio]:checked") ||
      field.querySelector("input, textarea, select")
    );
  }

  function focusField(field) {
    const target = field && focusTarget(field);
    if (!target) return;
    target.focus({ preventScroll: true });
    field.scrollIntoView({ block: "nearest" });
  }

  function currentField() {
    const active = document.activeElement;
    return active && active.closest ? active.closest("#score-form [data-field]") : null;
  }

  function focusFirstField() {
    const first = fields()[0];
    if (first) focusField(first);
  }

  function moveField(step) {
    const list = fields();
    if (!list.length) return;
    const index = list.indexOf(currentField());
    const next = index === -1 ? (step > 0 ? 0 : list.length - 1) : index + step;
    if (next >= 0 && next < list.length) focusField(list[next]);
  }

  function pickOption(number) {
    let field = currentField();
    if (!field || !field.querySelector("input[type=radio]")) {
      field = fields().find((f) => f.querySelector("input[type=radio]"));
    }
    if (!field) return false;
    const radio = field.querySelectorAll("input[type=radio]")[number - 1];
    if (!radio) return false;
    radio.checked = true;
    radio.focus({ preventScroll: true });
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function clearChoice(field) {
    for (const radio of field.querySelectorAll("input[type=radio]")) radio.checked = false;
  }

  // --- reading the form ----------------------------------------------------------------

  class FieldError extends Error {
    constructor(field, message) {
      super(message);
      this.field = field;
    }
  }

  function collect() {
    const scores = [];
    for (const field of document.querySelectorAll("#score-form fieldset[data-config-id]")) {
      const configId = field.dataset.configId;
      const name = field.dataset.name;
      const kind = field.dataset.kind;
      if (kind === "NUMERIC") {
        const input = field.querySelector("input");
        if (input.value.trim() === "" && input.validity.valid) continue;
        if (!input.validity.valid || !Number.isFinite(Number(input.value))) {
          const range = [input.min, input.max].filter(Boolean).join(" to ");
          throw new FieldError(field, `${name}: enter a number${range ? " from " + range : ""}.`);
        }
        scores.push({ configId, value: Number(input.value) });
      } else if (kind === "TEXT") {
        const text = field.querySelector("textarea").value.trim();
        if (text) scores.push({ configId, value: text });
      } else {
        const radio = field.querySelector("input[type=radio]:checked");
        if (!radio) continue;
        const value = radio.dataset.valueType === "number" ? Number(radio.value) : radio.value;
        scores.push({ configId, value });
      }
    }
    const comment = document.getElementById("comment");
    const text = comment ? comment.value.trim() : "";
    return { scores, comment: text || null };
  }

  // --- talking to the server -----------------------------------------------------------

  class CallError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function call(url, body) {
    let response;
    try {
      response = await window.tracemark.post(url, body);
    } catch (err) {
      throw new CallError("The server cannot be reached. Check the connection and try again.", 0);
    }
    const type = response.headers.get("content-type") || "";
    if (response.redirected || !type.includes("application/json")) {
      const message =
        response.status === 403
          ? "This page's security token expired. Reload the page to go on."
          : "Your session ended or the server answered unexpectedly. Reload the page to go on.";
      throw new CallError(message, response.status);
    }
    const data = await response.json();
    if (!response.ok) {
      throw new CallError(data.message || `The request failed (${response.status}).`, response.status);
    }
    return data;
  }

  function updateProgress(progress) {
    if (!progress) return;
    for (const [key, value] of Object.entries(progress)) {
      for (const element of document.querySelectorAll(`[data-progress="${key}"]`)) {
        element.textContent = String(value);
      }
    }
    for (const bar of document.querySelectorAll('[data-progress-bar="queue"]')) {
      bar.max = progress.queueTotal || 1;
      bar.value = progress.queueCompleted;
    }
  }

  function swap(data) {
    // The fragment is server-rendered with autoescaping; nothing in it is executed.
    const template = document.createElement("template");
    template.innerHTML = data.html;
    for (const fresh of template.content.querySelectorAll("[data-swap]")) {
      const old = document.getElementById(fresh.id);
      if (old) old.replaceWith(fresh);
    }
    updateProgress(data.progress);
    const panel = document.getElementById("item-panel");
    if (panel) panel.scrollTop = 0;
    window.scrollTo(0, 0);
    startHeartbeat();
    if (data.done) {
      const panelHeading = panel && panel.querySelector("h2");
      if (panel) panel.focus({ preventScroll: true });
      if (panelHeading) showStatus(panelHeading.textContent, "ok");
    } else {
      focusFirstField();
    }
  }

  function setBusy(value) {
    busy = value;
    const current = form();
    if (!current) return;
    current.toggleAttribute("aria-busy", value);
    for (const button of current.querySelectorAll("button")) button.disabled = value;
  }

  async function loadNext() {
    if (busy) return;
    setBusy(true);
    try {
      swap(await call(root.dataset.nextUrl, {}));
      statusBox.hidden = true;
    } catch (err) {
      showStatus(err.message, "error");
    } finally {
      setBusy(false);
    }
  }

  async function act(kind) {
    if (busy || !hasItem()) return;
    if (kind === "skip" && inHistory()) return;
    const current = form();
    let body = {};
    if (kind === "complete") {
      try {
        body = collect();
      } catch (err) {
        showFormError(err.message);
        if (err.field) focusField(err.field);
        return;
      }
      if (!body.scores.length && !body.comment && !inHistory()) {
        showFormError("Give at least one score (or a comment), or skip the item.");
        focusFirstField();
        return;
      }
    }
    clearFormError();
    const revising = inHistory();
    setBusy(true);
    try {
      const url = kind === "complete" ? current.dataset.completeUrl : current.dataset.skipUrl;
      const data = await call(url, body);
      swap(data);
      if (revising) showStatus("Your scores were saved. Forward.", "ok");
      else if (!data.done) showStatus(kind === "complete" ? "Saved. Next item." : "Skipped.", "ok");
    } catch (err) {
      if (err.status === 409) {
        showStatus(err.message, "warn", { label: "Take the next item", run: loadNext });
      } else {
        showFormError(err.message);
      }
    } finally {
      setBusy(false);
    }
  }

  function startHeartbeat() {
    // An earlier item (Previous) holds no lease: keep beating for the item still held.
    if (inHistory()) return;
    window.clearInterval(heartbeatTimer);
    if (!hasItem()) return;
    const url = form().dataset.heartbeatUrl;
    const every = Math.max(3, leaseSeconds / 3) * 1000;
    heartbeatTimer = window.setInterval(async () => {
      try {
        await call(url, {});
      } catch (err) {
        if (err.status === 409) {
          window.clearInterval(heartbeatTimer);
          showStatus(
            "Your hold on this item ended and others may have taken it.",
            "warn",
            { label: "Take the next item", run: loadNext },
          );
        }
      }
    }, every);
  }

  // Previous: back to the item I finished before this one; forward: towards my current item.
  async function travel(direction) {
    if (busy) return;
    if (direction === "forward" && !inHistory()) return;
    const current = form();
    const itemId = current && current.dataset.itemId ? current.dataset.itemId : null;
    const url = direction === "previous" ? root.dataset.previousUrl : root.dataset.forwardUrl;
    setBusy(true);
    try {
      swap(await call(url, { itemId }));
      statusBox.hidden = true;
    } catch (err) {
      showStatus(err.message, err.status === 404 ? "warn" : "error");
    } finally {
      setBusy(false);
    }
  }

  // --- Focused / Detailed view --------------------------------------------------------------

  function setView(name) {
    const detailed = name === "detailed";
    root.classList.toggle("detailed", detailed);
    for (const button of document.querySelectorAll("[data-view]")) {
      button.setAttribute("aria-pressed", button.dataset.view === name ? "true" : "false");
    }
    try {
      window.localStorage.setItem(VIEW_KEY, name);
    } catch (err) {
      // Storage disabled: the view is just not remembered.
    }
  }

  function toggleView() {
    setView(root.classList.contains("detailed") ? "focused" : "detailed");
  }

  setView(window.localStorage.getItem(VIEW_KEY) === "detailed" ? "detailed" : "focused");

  // --- shortcuts dialog and guidelines -------------------------------------------------

  function openShortcuts() {
    if (dialog && !dialog.open) dialog.showModal();
  }

  function toggleGuidelines() {
    if (guidelines) guidelines.open = !guidelines.open;
  }

  if (guidelines) {
    const saved = window.localStorage.getItem(GUIDELINES_KEY);
    if (saved !== null) guidelines.open = saved === "1";
    guidelines.addEventListener("toggle", () => {
      window.localStorage.setItem(GUIDELINES_KEY, guidelines.open ? "1" : "0");
    });
  }

  // --- events --------------------------------------------------------------------------

  document.addEventListener("submit", (event) => {
    if (event.target && event.target.id === "score-form") {
      event.preventDefault();
      act("complete");
    }
  });

  document.addEventListener("click", (event) => {
    const viewButton = event.target.closest && event.target.closest("[data-view]");
    if (viewButton) {
      event.preventDefault();
      setView(viewButton.dataset.view);
      return;
    }
    const button = event.target.closest && event.target.closest("[data-action]");
    if (!button) return;
    if (button.dataset.action === "skip") {
      event.preventDefault();
      act("skip");
    } else if (button.dataset.action === "previous" || button.dataset.action === "forward") {
      event.preventDefault();
      travel(button.dataset.action);
    } else if (button.dataset.action === "shortcuts") {
      event.preventDefault();
      openShortcuts();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (dialog && dialog.open) return; // the dialog closes itself on Esc
    const target = event.target;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      act("complete");
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const typing = isTyping(target);
    const inForm = Boolean(currentField());

    if ((event.key === "ArrowDown" || event.key === "ArrowUp") && inForm) {
      // Up/down move between fields (left/right still move between a field's options).
      const down = event.key === "ArrowDown";
      if (target.tagName === "TEXTAREA") {
        const atEdge =
          target.selectionStart === target.selectionEnd &&
          (down ? target.selectionEnd === target.value.length : target.selectionStart === 0);
        if (!atEdge) return; // let the caret move inside the text
      }
      event.preventDefault();
      moveField(down ? 1 : -1);
      return;
    }
    if (event.key === "Enter" && inForm && target.tagName === "INPUT") {
      // Enter in a field goes to the next field; Ctrl/Cmd+Enter completes.
      event.preventDefault();
      moveField(1);
      return;
    }
    if (event.key === "Escape" && typing) {
      target.blur();
      return;
    }
    if (typing) return;
    if (event.key === "?") {
      event.preventDefault();
      openShortcuts();
    } else if (event.key === "s" || event.key === "S") {
      event.preventDefault();
      act("skip");
    } else if (event.key === "g" || event.key === "G") {
      event.preventDefault();
      toggleGuidelines();
    } else if (event.key === "d" || event.key === "D") {
      event.preventDefault();
      toggleView();
    } else if (event.key === "p" || event.key === "P") {
      event.preventDefault();
      travel("previous");
    } else if (event.key === "n" || event.key === "N") {
      event.preventDefault();
      travel("forward");
    } else if (/^[1-9]$/.test(event.key)) {
      if (hasItem() && pickOption(Number(event.key))) event.preventDefault();
    } else if ((event.key === "Delete" || event.key === "Backspace") && inForm) {
      event.preventDefault();
      clearChoice(currentField());
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target.closest && event.target.closest("#score-form")) clearFormError();
  });

  startHeartbeat();
  if (hasItem()) focusFirstField();
})();
