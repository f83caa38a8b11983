// The problem page: matrix grids the student shapes, keyboard moves between cells, a live
// preview of expressions, and Submit through API v1 with the result shown without a reload.
// Every piece of HTML put into the page comes from our own server-rendered templates;
// student text only ever goes in through textContent or value.
"use strict";

(() => {
  const MAX_GRID = 10;
  const PLACEHOLDER = "00000000-0000-0000-0000-000000000000";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");
  const form = document.getElementById("answer-form");

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const withId = (url, id) => url.replace(PLACEHOLDER, id);

  async function getJSON(url) {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok || !response.headers.get("Content-Type")?.includes("json")) {
      throw new Error(response.status === 401 ? "log in again" : `answer ${response.status}`);
    }
    return response.json();
  }

  function say(className, text) {
    const p = document.createElement("p");
    p.className = className;
    if (className === "grading") {
      const spinner = document.createElement("span");
      spinner.className = "spinner";
      spinner.setAttribute("aria-hidden", "true");
      p.append(spinner, " ");
    }
    p.append(text);
    status.replaceChildren(p);
  }

  // Poll the submission (API v1) until it is graded, then swap in the server-rendered panel.
  async function follow(resultUrl, panelUrl) {
    let delay = 150;
    let submission;
    for (;;) {
      await sleep(delay);
      submission = await getJSON(resultUrl);
      if (submission.status === "graded" || submission.status === "error") break;
      delay = Math.min(delay * 1.5, 2000);
    }
    const panel = await getJSON(panelUrl);
    status.innerHTML = panel.result;
    return { submission, panel };
  }

  // A formula wider than its box scrolls inside it (site.css); one that does is made a
  // named region reachable with Tab, so it can be scrolled from the keyboard too.
  function markScrollingFormulas() {
    for (const box of document.querySelectorAll(".formula")) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "Formula (scrolls sideways)");
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    }
  }
  // A closed <details> lays nothing out, so measure when it opens and when the width changes.
  document.addEventListener("toggle", markScrollingFormulas, true);
  window.addEventListener("resize", markScrollingFormulas);
  markScrollingFormulas();

  // The submission page: a result still grading fills itself in.
  if (!form) {
    if (status && status.dataset.poll === "yes") {
      follow(status.dataset.resultUrl, status.dataset.panelUrl).catch((error) =>
        say("alert", `Could not fetch the result (${error.message}); reload the page.`));
    }
    return;
  }

  const parts = [...form.querySelectorAll("fieldset.part")];
  const partNamed = (name) => parts.find((p) => p.dataset.part === name);

  // --- matrix grids ------------------------------------------------------------------------

  function readGrid(part) {
    return [...part.querySelectorAll("table.matrix tr")].map((tr) =>
      [...tr.querySelectorAll("input.cell")].map((cell) => cell.value.trim()));
  }

  function makeCell(name, i, j, value) {
    const cell = document.createElement("input");
    cell.className = "cell";
    cell.type = "text";
    cell.autocomplete = "off";
    cell.spellcheck = false;
    cell.setAttribute("autocapitalize", "off");
    cell.dataset.row = String(i);
    cell.dataset.col = String(j);
    cell.name = `${name}.${i}.${j}`;
    cell.setAttribute("aria-label", `${name} row ${i} column ${j}`);
    cell.setAttribute("aria-describedby", `error-${name}`);
    cell.value = value;
    const td = document.createElement("td");
    td.append(cell);
    return td;
  }

  function resize(part) {
    const rows = Number(part.querySelector(".shape-rows").value);
    const cols = Number(part.querySelector(".shape-cols").value);
    if (!Number.isInteger(rows) || !Number.isInteger(cols)) return;
    if (rows < 1 || cols < 1 || rows > MAX_GRID || cols > MAX_GRID) return;
    const old = readGrid(part);
    const body = part.querySelector("table.matrix tbody");
    body.replaceChildren(...Array.from({ length: rows }, (_, i) => {
      const tr = document.createElement("tr");
      for (let j = 0; j < cols; j += 1) {
        tr.append(makeCell(part.dataset.part, i + 1, j + 1, old[i]?.[j] ?? ""));
      }
      return tr;
    }));
    clearMarks(part);
  }

  function cellAt(part, i, j) {
    return part.querySelector(`input.cell[data-row="${i}"][data-col="${j}"]`);
  }

  // Arrow keys move between cells, as in a spreadsheet: a cell entered from the keyboard is
  // in "enter" mode, where every arrow moves on; after a click or F2 it is in "edit" mode,
  // where left and right move the caret and leave the cell only at the edge of the text.
  function moveFrom(cell, key) {
    const part = cell.closest("fieldset.part");
    const i = Number(cell.dataset.row);
    const j = Number(cell.dataset.col);
    const editing = cell.dataset.edit === "yes";
    const atStart = cell.selectionStart === 0 && cell.selectionEnd === 0;
    const atEnd = cell.selectionStart === cell.value.length;
    const target = {
      ArrowUp: () => cellAt(part, i - 1, j),
      ArrowDown: () => cellAt(part, i + 1, j),
      ArrowLeft: () => (!editing || atStart ? cellAt(part, i, j - 1) : null),
      ArrowRight: () => (!editing || atEnd ? cellAt(part, i, j + 1) : null),
    }[key]?.();
    if (!target) return false;
    target.focus();
    return true;
  }

  form.addEventListener("keydown", (event) => {
    const cell = event.target;
    if (!cell.matches("input.cell") || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "F2") {
      cell.dataset.edit = "yes";
      cell.setSelectionRange(cell.value.length, cell.value.length);
    } else if (!event.shiftKey && moveFrom(cell, event.key)) {
      event.preventDefault();
    }
  });
  // Entering a cell selects what is in it, so typing replaces it; a click edits in place.
  form.addEventListener("focusin", (event) => {
    if (!event.target.matches("input.cell")) return;
    delete event.target.dataset.edit;
    event.target.select();
  });
  form.addEventListener("click", (event) => {
    if (event.target.matches("input.cell")) event.target.dataset.edit = "yes";
  });
  form.addEventListener("input", (event) => {
    const target = event.target;
    const part = target.closest("fieldset.part");
    if (!part) return;
    if (target.matches(".shape-rows, .shape-cols")) resize(part);
    else if (target.matches("input.cell")) unmarkCell(target);
    setError(part, "");
    if (target.matches("input.expression")) schedulePreview(part, target);
  });

  // --- marks and errors --------------------------------------------------------------------

  function unmarkCell(cell) {
    cell.classList.remove("cell-right", "cell-wrong");
    cell.parentElement.querySelector(".cell-mark")?.remove();
  }

  function clearMarks(part) {
    part.classList.remove("is-right", "is-wrong");
    part.querySelector(".part-mark").textContent = "";
    part.querySelectorAll("input.cell").forEach(unmarkCell);
  }

  function setError(part, message) {
    part.querySelector(".part-error").textContent = message;
    part.querySelectorAll("input").forEach((input) => {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  }

  function markCell(cell, ok) {
    cell.classList.add(ok ? "cell-right" : "cell-wrong");
    const mark = document.createElement("span");
    mark.className = "cell-mark";
    const glyph = document.createElement("span");
    glyph.setAttribute("aria-hidden", "true");
    glyph.textContent = ok ? "✓" : "✗";
    const words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = ok ? "right" : "wrong";
    mark.append(glyph, words);
    cell.after(mark);
  }

  function markParts(results) {
    for (const [name, result] of Object.entries(results || {})) {
      const part = partNamed(name);
      if (!part) continue;
      clearMarks(part);
      part.classList.add(result.correct ? "is-right" : "is-wrong");
      part.querySelector(".part-mark").textContent = result.correct
        ? (result.carried_forward ? "✓ correct (carried-forward credit)" : "✓ correct")
        : "✗ not correct";
      (result.entries || []).forEach((row, i) => row.forEach((ok, j) => {
        const cell = cellAt(part, i + 1, j + 1);
        if (cell) markCell(cell, ok);
      }));
    }
  }

  // --- expression preview (a GET with bounded text; the server parses it) -------------------

  const timers = new WeakMap();
  function schedulePreview(part, input) {
    clearTimeout(timers.get(part));
    timers.set(part, setTimeout(() => preview(part, input), 250));
  }

  async function preview(part, input) {
    const box = part.querySelector(".preview");
    const url = new URL(form.dataset.previewUrl, window.location.href);
    url.searchParams.set("part", part.dataset.part);
    url.searchParams.set("text", input.value.slice(0, 500));
    try {
      const result = await getJSON(url);
      if (input.value.slice(0, 500) !== url.searchParams.get("text")) return; // typed on since
      box.classList.toggle("preview-error", !result.ok);
      if (result.ok) {
        const lead = document.createElement("span");
        lead.className = "muted";
        lead.textContent = "Read as ";
        box.replaceChildren(lead);
        box.insertAdjacentHTML("beforeend", result.mathml); // sanitised MathML from our server
      } else {
        box.textContent = result.error;
      }
    } catch (error) {
      box.textContent = `No preview (${error.message}).`;
    }
  }

  // A prefilled expression (the last answer sent) shows how it was read straight away.
  parts.filter((part) => part.dataset.kind === "expression").forEach((part) => {
    const input = part.querySelector("input.expression");
    if (input.value.trim()) preview(part, input);
  });

  // --- submitting --------------------------------------------------------------------------

  function answers() {
    const out = {};
    for (const part of parts) {
      const name = part.dataset.part;
      const kind = part.dataset.kind;
      if (kind === "matrix") out[name] = readGrid(part);
      else if (kind === "choice") out[name] = part.querySelector("input:checked")?.value ?? "";
      else out[name] = part.querySelector(`input.${kind}`).value;
    }
    return out;
  }

  function setAttempts(html, left) {
    document.getElementById("attempts").outerHTML = html;
    if (left === 0) {
      parts.forEach((part) => { part.disabled = true; });
      form.querySelector("#submit").disabled = true;
    }
  }

  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const button = form.querySelector("#submit");
    button.disabled = true;
    // The earlier result's marks go now: whatever this submission turns out to be (unread,
    // refused, failed), they no longer describe the answers in the grid.
    parts.forEach((part) => { setError(part, ""); clearMarks(part); });
    say("grading", "Checking your answers…");
    try {
      const response = await fetch(form.dataset.submitUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrf,
        },
        body: JSON.stringify({ answers: answers() }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 422 && body.error?.code === "invalid_answer") {
        const problems = body.error.parts || {};
        for (const [name, message] of Object.entries(problems)) {
          const part = partNamed(name);
          if (part) setError(part, message);
        }
        say("alert", "Nothing was graded and no attempt was used: fix the answers marked below.");
        const first = parts.find((part) => problems[part.dataset.part]);
        first?.querySelector("input:not([type=number])")?.focus();
        return;
      }
      if (response.status === 401) {
        say("alert", "Your session has ended: log in again in another tab, then submit again.");
        return;
      }
      if (response.status !== 202) {
        say("alert", body.error?.message || `The answer could not be sent (${response.status}).`);
        return;
      }
      say("grading", "Grading…");
      const { submission, panel } = await follow(
        withId(form.dataset.resultUrl, body.id), withId(form.dataset.panelUrl, body.id));
      markParts(submission.parts);
      document.getElementById("history").innerHTML = panel.history;
      setAttempts(panel.attempts, panel.attempts_left);
      if (panel.solution && !document.getElementById("solution")) {
        document.getElementById("solution-slot").innerHTML = panel.solution;
        markScrollingFormulas();
      }
    } catch (error) {
      say("alert", `Something went wrong (${error.message}). Your answers are kept: try again.`);
    } finally {
      busy = false;
      button.disabled = form.querySelector("fieldset.part:disabled") !== null;
    }
  });
})();
