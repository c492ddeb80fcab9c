// Tracemark: behaviour of the settings-like forms (score configs, queues, settings).
// Everything works without it; it only hides what does not apply and asks before removals.
"use strict";

(function () {
  // Score config form: show only the part of the chosen data type.
  for (const form of document.querySelectorAll("[data-type-form]")) {
    const select = form.querySelector("[data-type-select]");
    const sync = () => {
      for (const part of form.querySelectorAll("[data-for-type]")) {
        part.hidden = part.dataset.forType !== select.value;
      }
    };
    if (select) {
      select.addEventListener("change", sync);
      sync();
    }
    const rows = form.querySelector("[data-category-rows] tbody");
    const add = form.querySelector("[data-add-category]");
    if (rows && add) {
      add.hidden = false;
      add.addEventListener("click", () => {
        const last = rows.lastElementChild;
        const copy = last.cloneNode(true);
        const n = rows.children.length + 1;
        for (const input of copy.querySelectorAll("input")) {
          input.value = "";
          const label = input.getAttribute("aria-label") || "";
          input.setAttribute("aria-label", label.replace(/\d+/, String(n)));
        }
        rows.appendChild(copy);
        copy.querySelector("input").focus();
      });
    }
  }

  // Filter forms leave their empty fields out of the URL, so a shared link stays readable.
  for (const form of document.querySelectorAll("form[data-clean-get]")) {
    form.addEventListener("submit", () => {
      for (const field of form.elements) {
        if (field.name && !field.value) field.disabled = true;
      }
      // Re-enable them if the page is shown again from the back/forward cache.
      window.addEventListener("pageshow", () => {
        for (const field of form.elements) field.disabled = false;
      }, { once: true });
    });
  }

  // Forms that remove or revoke something ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // Copy buttons next to secrets shown once.
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
      } catch (error) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    });
  }
})();
