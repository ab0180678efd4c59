// Beside each layout field of the design site: the layout as it is typed, in the sandbox.
// The source goes to the design site's preview endpoint (debounced); it answers a frame to
// show with sample values, or the compile problems with their line and column.
(() => {
  "use strict";

  const DEBOUNCE_MS = 400;
  let previews = 0;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function press(button, pressed) {
    button.setAttribute("aria-pressed", String(pressed));
    // unfold's stylesheet has no pressed look: an underline and weight say which mode shows.
    button.style.fontWeight = pressed ? "600" : "";
    button.style.textDecoration = pressed ? "underline" : "";
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setUp(textarea) {
    if (textarea.dataset.previewReady) return;
    textarea.dataset.previewReady = "1";
    const panel = element("div", "mt-3 flex flex-col gap-2");
    panel.dataset.testid = `layout-preview-${textarea.name}`;
    const bar = element("div", "flex flex-row flex-wrap items-center gap-2 text-sm");
    bar.append(element("span", "font-semibold text-font-important-light dark:text-font-important-dark", "Preview"));
    panel.append(bar);
    textarea.after(panel);

    const target = textarea.dataset.layoutTarget;
    if (!target) {
      panel.append(element("p", "text-font-subtle-light dark:text-font-subtle-dark", "Save once to preview this layout."));
      return;
    }

    let mode = "";
    let sequence = 0;
    let timer = 0;
    const problems = element("ul", "flex flex-col gap-1 text-red-600 dark:text-red-500");
    problems.dataset.testid = "layout-problems";
    const stage = element("div", "rounded-default border border-base-200 p-3 dark:border-base-700");

    if (textarea.name === "edit_layout") {
      // An edit layout also shows read-only on the ticket's or task's page.
      for (const [value, label] of [["edit", "Edit"], ["display", "Display"]]) {
        const button = element("button", "rounded-default border border-base-200 px-2 py-0.5 dark:border-base-700", label);
        button.type = "button";
        press(button, value === "edit");
        button.addEventListener("click", () => {
          mode = value;
          for (const other of bar.querySelectorAll("button")) press(other, other === button);
          refresh();
        });
        bar.append(button);
      }
    }
    panel.append(problems, stage);

    async function refresh() {
      const mine = ++sequence;
      let answer;
      try {
        const response = await fetch(textarea.dataset.layoutPreview, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify({ target, source: textarea.value, mode }),
        });
        answer = await response.json();
        if (!response.ok) answer = { problems: [{ text: answer.detail || "The preview failed." }] };
      } catch {
        answer = { problems: [{ text: "The preview could not be reached." }] };
      }
      if (mine === sequence) show(answer); // else a newer one is on its way
    }

    function show(answer) {
      problems.replaceChildren(...(answer.problems || []).map((problem) => element("li", "", problem.text)));
      if (!answer.frame) return; // the last good preview stays, under its problems
      window.TicketFlowerLayouts.stop(stage.querySelector("[data-tf-layout]"));
      const props = element("script");
      props.type = "application/json";
      props.id = `layout-preview-props-${++previews}`;
      props.textContent = JSON.stringify(answer.frame.props);
      const host = element("div");
      host.dataset.tfLayout = "";
      host.dataset.testid = "layout-preview";
      host.dataset.frameUrl = answer.frame.url;
      host.dataset.props = props.id;
      host.dataset.title = `Preview: ${answer.frame.title}`;
      stage.replaceChildren(props, host);
      window.TicketFlowerLayouts.start();
    }

    textarea.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DEBOUNCE_MS);
    });
    refresh();
  }

  function setUpAll() {
    for (const textarea of document.querySelectorAll("textarea[data-layout-preview]")) setUp(textarea);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpAll);
  else setUpAll();
})();
