// Traces / observations / sessions lists: the matching count, row selection, "select all
// matching", the Actions menu. The page works without it (every field is a plain form field).
"use strict";

(() => {
  const fmt = (n) => n.toLocaleString("en-US");
  const counter = document.getElementById("matching");
  const bar = document.querySelector("[data-list-actions]");
  let matching = bar && bar.dataset.matching ? Number(bar.dataset.matching) : null;
  let update = () => {};

  // The page is rendered without counting (a count over millions of rows costs more than the
  // page); the count comes from a second request, capped.
  if (counter && counter.dataset.countUrl) {
    fetch(counter.dataset.countUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((data) => {
        const noun = counter.dataset.noun;
        const what = counter.dataset.filtered === "1" ? " this filter" : "";
        counter.textContent = "";
        if (data.capped) {
          counter.textContent = `More than ${fmt(Number(counter.dataset.cap))} ${noun} match${what}`;
        } else {
          const strong = document.createElement("strong");
          strong.dataset.matching = String(data.matching);
          strong.textContent = fmt(data.matching);
          const one = data.matching === 1;
          counter.append(strong, ` ${one ? noun.slice(0, -1) : noun} match${one ? "es" : ""}${what}`);
          matching = data.matching;
          const label = bar && bar.querySelector("[data-select-all-label]");
          if (label) label.textContent = `Select all ${fmt(matching)} ${noun} matching this filter`;
        }
        update();
      })
      .catch(() => { counter.textContent = "The matching rows could not be counted."; });
  }

  if (!bar) return;
  const form = bar.closest("form");
  const rows = Array.from(form.querySelectorAll("[data-row-check]"));
  const pageBox = bar.querySelector("[data-select-page]");
  const allBox = bar.querySelector("[data-select-all]");
  const allWrap = bar.querySelector("[data-select-all-box]");
  const label = bar.querySelector("[data-selection]");
  const submit = bar.querySelector("[data-add-submit]");
  const choice = bar.querySelector("[data-queue-choice]");
  const newQueue = bar.querySelector("[data-new-queue]");
  const menu = bar.querySelector("[data-actions-menu]");

  update = () => {
    const checked = rows.filter((r) => r.checked).length;
    const whole = rows.length > 0 && checked === rows.length;
    pageBox.checked = whole;
    pageBox.indeterminate = checked > 0 && !whole;
    // Offer "all matching" once the whole page is ticked and more rows match than it shows.
    const more = matching === null || matching > rows.length;
    allWrap.hidden = !(whole && more);
    if (allWrap.hidden) allBox.checked = false;
    if (allBox.checked) {
      label.textContent = matching === null ? "All matching rows selected" : `All ${fmt(matching)} matching selected`;
    } else {
      label.textContent = checked ? `${fmt(checked)} selected` : "None selected";
    }
    submit.disabled = !(checked || allBox.checked);
  };

  function showNewQueue() {
    const isNew = choice.value === "__new__";
    newQueue.hidden = !isNew;
    newQueue.querySelector("input[name=new_name]").required = isNew;
  }

  pageBox.addEventListener("change", () => {
    rows.forEach((r) => { r.checked = pageBox.checked; });
    update();
  });
  rows.forEach((r) => r.addEventListener("change", () => {
    if (!r.checked) allBox.checked = false;
    update();
  }));
  allBox.addEventListener("change", update);
  choice.addEventListener("change", showNewQueue);
  form.addEventListener("submit", (event) => {
    if (submit.disabled) event.preventDefault();
    else submit.setAttribute("aria-busy", "true");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  showNewQueue();
  update();
})();
