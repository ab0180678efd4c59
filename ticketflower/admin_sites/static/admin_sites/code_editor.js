// The code field of a code task on the design site: numbered lines, Tab indents, the cursor's
// line and column, problems at their line and column as the code is typed (the design site's
// check endpoint), and, on a saved task, "Try it": the code runs in the sandbox through a job
// with the sample input, and the answer shows when it is done.
(() => {
  "use strict";

  const DEBOUNCE_MS = 400;
  const POLL_MS = 500;
  const POLL_GIVE_UP_MS = 120000;
  const INDENT = "    ";

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
    return { status: response.status, answer: await response.json() };
  }

  // Offset of (line, column), both counted from 1, in text.
  function offsetOf(text, line, column) {
    let offset = 0;
    for (let n = 1; n < line; n++) {
      const next = text.indexOf("\n", offset);
      if (next < 0) return text.length;
      offset = next + 1;
    }
    return Math.min(text.length, offset + Math.max(0, (column || 1) - 1));
  }

  // Replace the selection through the browser's own editing, so Ctrl+Z undoes it like typing.
  function insert(textarea, text) {
    textarea.focus();
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
      textarea.dispatchEvent(new Event("input"));
    }
  }

  // Tab indents (every selected line, when the selection spans lines); Shift+Tab outdents.
  function indent(textarea, outdent) {
    const value = textarea.value;
    const start = textarea.selectionStart;
    const end = textarea.selectionEnd;
    const spansLines = value.slice(start, end).includes("\n");
    if (!outdent && !spansLines) {
      insert(textarea, INDENT);
      return;
    }
    const from = value.lastIndexOf("\n", start - 1) + 1;
    const to = end > from && value[end - 1] === "\n" ? end - 1 : end;
    const lines = value.slice(from, to).split("\n");
    const changed = lines.map((line) => {
      if (!outdent) return line ? INDENT + line : line;
      const spaces = line.match(/^ {0,4}/)[0].length;
      return line.slice(spaces);
    }).join("\n");
    textarea.setSelectionRange(from, to);
    insert(textarea, changed);
    textarea.setSelectionRange(from, from + changed.length);
  }

  // Enter keeps the line's indentation, one level more after a line ending in ":".
  function newline(textarea) {
    const value = textarea.value;
    const start = textarea.selectionStart;
    const line = value.slice(value.lastIndexOf("\n", start - 1) + 1, start);
    let lead = line.match(/^[ \t]*/)[0];
    if (/:\s*$/.test(line)) lead += INDENT;
    insert(textarea, `\n${lead}`);
  }

  // Only the sections of the task's type show: its code for CODE, the HTTP fields for actions,
  // who does it for forms, the time limit for all but forms. (What is hidden is still saved;
  // validation warns about code left on another kind of task.)
  function followTaskType() {
    const type = document.querySelector("select[name=task_type]");
    if (!type) return;
    const section = (name) => document.querySelector(`.field-${name}`)?.closest("fieldset");
    const shownFor = [
      [section("code"), (kind) => kind === "CODE"],
      [section("action_url"), (kind) => kind === "SYNC_ACTION" || kind === "ASYNC_ACTION"],
      [section("assignment"), (kind) => kind === "FORM"],
      [section("timeout_seconds"), (kind) => kind !== "FORM"],
    ];
    const show = () => {
      for (const [fieldset, shown] of shownFor) fieldset?.classList.toggle("tf-hidden", !shown(type.value));
    };
    type.addEventListener("change", show);
    show();
  }

  function setUp(textarea) {
    if (textarea.dataset.codeReady) return;
    textarea.dataset.codeReady = "1";

    // Line numbers in a gutter as tall as the field, scrolled with it line for line.
    const frame = element("div", "flex w-full");
    const gutter = element("pre", "tf-code-gutter px-2 text-base-400");
    gutter.setAttribute("aria-hidden", "true");
    gutter.dataset.testid = "code-gutter";
    textarea.before(frame);
    frame.append(gutter, textarea);
    textarea.classList.add("grow");
    const style = window.getComputedStyle(textarea);
    gutter.style.paddingTop = style.paddingTop;
    gutter.style.borderTop = `${style.borderTopWidth} solid transparent`;
    const fitGutter = () => { gutter.style.height = `${textarea.offsetHeight}px`; };
    new ResizeObserver(fitGutter).observe(textarea);
    fitGutter();

    const status = element("div", "mt-1 text-xs text-font-subtle-light dark:text-font-subtle-dark");
    status.dataset.testid = "code-cursor";
    const problems = element("ul", "mt-2 flex flex-col gap-1 text-sm text-red-600 dark:text-red-500");
    problems.dataset.testid = "code-problems";
    frame.after(status, problems);

    function numberLines() {
      const lines = textarea.value.split("\n").length;
      let text = "";
      for (let n = 1; n <= lines; n++) text += `${n}\n`;
      gutter.textContent = text;
      gutter.scrollTop = textarea.scrollTop;
    }

    function showCursor() {
      const before = textarea.value.slice(0, textarea.selectionStart);
      const line = before.split("\n").length;
      const column = before.length - before.lastIndexOf("\n");
      status.textContent = `Line ${line}, column ${column}`;
    }

    function goTo(line, column) {
      const at = offsetOf(textarea.value, line, column);
      textarea.focus();
      textarea.setSelectionRange(at, at);
      const height = parseFloat(style.lineHeight) || 20;
      textarea.scrollTop = Math.max(0, (line - 3) * height);
      showCursor();
    }

    textarea.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "Tab" && !textarea.dataset.tabLeaves) {
        event.preventDefault(); // Tab indents; Escape, then Tab, leaves the field
        indent(textarea, event.shiftKey);
      } else if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        newline(textarea);
      } else if (event.key === "Escape") {
        textarea.dataset.tabLeaves = "1";
      }
    });
    textarea.addEventListener("blur", () => { delete textarea.dataset.tabLeaves; });
    textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });
    for (const name of ["keyup", "click", "focus", "input"]) textarea.addEventListener(name, showCursor);

    let sequence = 0;
    let timer = 0;
    async function check() {
      const mine = ++sequence;
      let found;
      try {
        const { status: code, answer } = await post(textarea.dataset.codeCheck, { source: textarea.value });
        found = code === 200 ? answer.problems : [{ text: answer.detail || "The check failed." }];
      } catch {
        found = [{ text: "The check could not be reached." }];
      }
      if (mine !== sequence) return; // a newer one is on its way
      problems.replaceChildren(...found.map((problem) => {
        const item = element("li");
        if (problem.line) {
          const link = element("button", "underline text-left", problem.text);
          link.type = "button";
          link.addEventListener("click", () => goTo(problem.line, problem.column));
          item.append(link);
        } else {
          item.textContent = problem.text;
        }
        return item;
      }));
    }

    textarea.addEventListener("input", () => {
      numberLines();
      window.clearTimeout(timer);
      timer = window.setTimeout(check, DEBOUNCE_MS);
    });
    numberLines();
    showCursor();
    if (textarea.value.trim()) check();
    if (textarea.dataset.codeTry) setUpTry(textarea, problems);
    followTaskType();
  }

  function setUpTry(textarea, problemsList) {
    const panel = element("div", "mt-4 flex flex-col gap-2 rounded-default border border-base-200 p-3 dark:border-base-700");
    panel.dataset.testid = "code-try";
    panel.append(element("span", "font-semibold text-font-important-light dark:text-font-important-dark", "Try it"));
    panel.append(element("p", "text-sm text-font-subtle-light dark:text-font-subtle-dark",
      "Runs the code above (saved or not) in the sandbox with this input, the way a ticket would."));
    const input = element("textarea", "tf-code w-full rounded-default border border-base-200 p-2 dark:border-base-700 dark:bg-base-900");
    input.rows = 6;
    input.spellcheck = false;
    input.setAttribute("aria-label", "Sample input (JSON)");
    input.dataset.testid = "code-try-input";
    input.value = JSON.stringify(JSON.parse(textarea.dataset.codeSample || "{}"), null, 2);
    const button = element("button", "self-start rounded-default bg-primary-600 px-3 py-1.5 text-sm font-medium text-white", "Run");
    button.type = "button";
    button.dataset.testid = "code-try-run";
    const result = element("div", "flex flex-col gap-2 text-sm");
    result.dataset.testid = "code-try-result";
    result.setAttribute("aria-live", "polite");
    panel.append(input, button, result);
    problemsList.after(panel);

    function block(title, text, className) {
      const box = element("div", "flex flex-col gap-1");
      box.append(element("span", "font-semibold", title));
      box.append(element("pre", `whitespace-pre-wrap break-words font-mono text-xs rounded-default bg-base-50 p-2 dark:bg-base-800 ${className || ""}`, text));
      return box;
    }

    function show(trial) {
      const parts = [];
      const ok = trial.outcome === "ok" && !Object.keys(trial.output_problems || {}).length;
      const headline = ok ? `Done in ${trial.ms} ms.` : (trial.message || "The output does not fit the task's output schema.");
      parts.push(element("p", ok ? "font-semibold text-green-700 dark:text-green-500" : "font-semibold text-red-600 dark:text-red-500", headline));
      if (trial.output) parts.push(block("Output", JSON.stringify(trial.output, null, 2)));
      const schema = Object.entries(trial.output_problems || {});
      if (schema.length) {
        parts.push(block("Does not fit the output schema", schema.map(([field, messages]) => `${field || "output"}: ${messages.join(" ")}`).join("\n"), "text-red-600"));
      }
      if (trial.traceback) parts.push(block("Traceback", trial.traceback, "text-red-600"));
      if (trial.log) parts.push(block("Printed", trial.log));
      result.replaceChildren(...parts);
    }

    button.addEventListener("click", async () => {
      let sample;
      try {
        sample = JSON.parse(input.value || "{}");
      } catch (error) {
        result.replaceChildren(element("p", "text-red-600", `The input is not JSON: ${error.message}`));
        return;
      }
      button.disabled = true;
      result.replaceChildren(element("p", "", "Waiting for the sandbox…"));
      try {
        const { status, answer } = await post(textarea.dataset.codeTry, {
          task: Number(textarea.dataset.codeTask), source: textarea.value, input: sample,
        });
        if (status !== 202) {
          const messages = answer.problems ? Object.values(answer.problems).flat() : [answer.detail || "The try was refused."];
          result.replaceChildren(...messages.map((text) => element("p", "text-red-600 dark:text-red-500", text)));
          return;
        }
        const started = Date.now();
        while (Date.now() - started < POLL_GIVE_UP_MS) {
          await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
          const response = await fetch(answer.url, { credentials: "same-origin" });
          const trial = await response.json();
          if (trial.status === "done") {
            show(trial);
            return;
          }
        }
        result.replaceChildren(element("p", "text-red-600", "No answer yet: is a job worker running?"));
      } catch {
        result.replaceChildren(element("p", "text-red-600", "The try could not be reached."));
      } finally {
        button.disabled = false;
      }
    });
  }

  function setUpAll() {
    for (const textarea of document.querySelectorAll("textarea[data-code-check]")) setUp(textarea);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpAll);
  else setUpAll();
})();
