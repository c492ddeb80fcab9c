// Tracemark: the trace and session detail pages, and the process page's Detailed view.
// Selecting a node of the execution tree swaps in its panel (server-rendered, autoescaped)
// without reloading the page; Run / Scores tabs; the Annotate panel and its config picker.
// Everything works by event delegation, so content swapped in later behaves the same.
"use strict";

(() => {
  const ANNOTATE_KEY = "tracemark.annotate.open";
  const HIDDEN_CONFIGS_KEY = "tracemark.annotate.hiddenConfigs";
  const onTracePage = () => Boolean(document.querySelector('[data-page="trace"]'));

  function read(key, fallback) {
    try {
      const value = window.localStorage.getItem(key);
      return value === null ? fallback : JSON.parse(value);
    } catch (err) {
      return fallback;
    }
  }

  function write(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (err) {
      // Storage full or disabled: the choice is just not remembered.
    }
  }

  function swapIn(html) {
    // Server-rendered with autoescaping; a <template> never runs what it holds.
    const template = document.createElement("template");
    template.innerHTML = html;
    const fresh = template.content.firstElementChild;
    if (!fresh || !fresh.id) return null;
    const old = document.getElementById(fresh.id);
    if (old) old.replaceWith(fresh);
    return fresh;
  }

  // --- tree selection --------------------------------------------------------------------

  let loading = null;

  async function select(link) {
    const url = link.dataset.panelUrl;
    if (!url) return;
    if (loading) loading.abort();
    loading = new AbortController();
    const tree = link.closest(".ttree");
    if (tree) tree.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: loading.signal,
      });
      const type = response.headers.get("content-type") || "";
      if (!response.ok || !type.includes("application/json")) {
        window.location.href = link.href; // let the full page say what is wrong
        return;
      }
      const data = await response.json();
      swapIn(data.detail);
      if (data.annotate && document.getElementById("annotate-form")) {
        swapIn(data.annotate);
        applyHiddenConfigs();
      }
      if (tree) {
        for (const other of tree.querySelectorAll("a.tnode[aria-current]")) {
          other.removeAttribute("aria-current");
        }
      }
      link.setAttribute("aria-current", "true");
      if (onTracePage()) window.history.replaceState(null, "", link.href);
    } catch (err) {
      if (err.name !== "AbortError") window.location.href = link.href;
    } finally {
      if (tree) tree.removeAttribute("aria-busy");
    }
  }

  function moveInTree(link, step) {
    const links = Array.from(link.closest(".ttree").querySelectorAll("a.tnode"));
    const next = links[links.indexOf(link) + step];
    if (next) {
      next.focus();
      select(next);
    }
  }

  // --- tabs -------------------------------------------------------------------------------

  function showTab(tab) {
    const list = tab.closest("[role=tablist]");
    const name = tab.dataset.tab;
    for (const other of list.querySelectorAll("[data-tab]")) {
      other.setAttribute("aria-selected", other === tab ? "true" : "false");
      const panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = other !== tab;
    }
    if (onTracePage() || document.querySelector('[data-page="session"]')) {
      const url = new URL(window.location.href);
      url.searchParams.set("tab", name);
      window.history.replaceState(null, "", url);
    }
  }

  // --- the Annotate panel -----------------------------------------------------------------

  function setAnnotateOpen(open, focus) {
    const side = document.getElementById("annotate");
    const button = document.querySelector('[data-action="annotate"]');
    if (!side || !button) return;
    side.hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    write(ANNOTATE_KEY, open);
    if (open && focus) {
      const first = side.querySelector("fieldset:not([hidden]) input, fieldset:not([hidden]) textarea, textarea");
      if (first) first.focus();
    }
  }

  function applyHiddenConfigs() {
    const hidden = new Set(read(HIDDEN_CONFIGS_KEY, []));
    const form = document.getElementById("annotate-form");
    if (!form) return;
    let shown = 0;
    const toggles = form.querySelectorAll("[data-config-toggle]");
    for (const box of toggles) {
      const id = box.dataset.configToggle;
      box.checked = !hidden.has(id);
      const field = form.querySelector(`fieldset[data-config-id="${CSS.escape(id)}"]`);
      if (field) {
        field.hidden = !box.checked;
        field.disabled = !box.checked; // a hidden field is not sent
      }
      if (box.checked) shown += 1;
    }
    const count = form.querySelector("[data-picker-count]");
    if (count) count.textContent = `(${shown} of ${toggles.length})`;
  }

  function toggleConfig(box) {
    const hidden = new Set(read(HIDDEN_CONFIGS_KEY, []));
    if (box.checked) hidden.delete(box.dataset.configToggle);
    else hidden.add(box.dataset.configToggle);
    write(HIDDEN_CONFIGS_KEY, Array.from(hidden));
    applyHiddenConfigs();
  }

  // --- events -----------------------------------------------------------------------------

  document.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return; // let the browser open links in new tabs
    }
    const target = event.target;
    if (!target.closest) return;
    const node = target.closest("a.tnode[data-panel-url]");
    if (node) {
      event.preventDefault();
      select(node);
      return;
    }
    const tab = target.closest("[role=tab][data-tab]");
    if (tab) {
      event.preventDefault();
      showTab(tab);
      return;
    }
    const annotate = target.closest('[data-action="annotate"]');
    if (annotate) {
      event.preventDefault();
      const side = document.getElementById("annotate");
      setAnnotateOpen(side ? side.hidden : false, true);
    }
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("[data-config-toggle]")) {
      toggleConfig(event.target);
    }
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (target.matches && target.matches("a.tnode")) {
      if (event.key === "ArrowDown" || event.key === "j") {
        event.preventDefault();
        moveInTree(target, 1);
        return;
      }
      if (event.key === "ArrowUp" || event.key === "k") {
        event.preventDefault();
        moveInTree(target, -1);
        return;
      }
    }
    const typing =
      target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
    if (!typing && (event.key === "a" || event.key === "A") && document.getElementById("annotate")) {
      event.preventDefault();
      setAnnotateOpen(document.getElementById("annotate").hidden, true);
    }
  });

  // On load: the Annotate panel as the person left it (the server opens it after a save).
  const side = document.getElementById("annotate");
  if (side && side.hidden && read(ANNOTATE_KEY, false)) setAnnotateOpen(true, false);
  applyHiddenConfigs();
})();
