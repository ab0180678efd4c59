// The assistant's conversation page: while the assistant writes, show what it has written so
// far and reload the page once it is done (the proposal's artefacts are drawn by the server).
(function () {
  "use strict";
  const form = document.getElementById("message-form");
  // A message the server refused: show why, where the person is looking.
  if (form && form.querySelector("[role=alert]")) form.scrollIntoView({ block: "center" });
  const writing = document.querySelector("[data-testid=assistant-writing]");
  if (!writing) return;
  const partial = document.querySelector("[data-testid=assistant-partial]");
  const url = writing.dataset.stateUrl;
  const started = Date.now();
  let delay = 300;

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const state = await response.json();
        const typed = form?.querySelector("textarea")?.value.trim();
        if (!state.pending && typed) {
          // Never drop what the person is writing: offer the answer instead of loading it.
          writing.textContent = "The answer is ready: ";
          const link = document.createElement("a");
          link.href = `${window.location.pathname}?answered=${Date.now()}#latest`;
          link.textContent = "show it (what you are writing here is not kept)";
          link.className = "text-primary-600 underline";
          writing.append(link);
          return;
        }
        if (!state.pending) {
          // A GET of the page, never reload(): that would send again a form this page answered.
          // (A new query string, so it is never taken for a jump within the page.)
          window.location.replace(`${window.location.pathname}?answered=${Date.now()}#latest`);
          return;
        }
        if (partial && typeof state.text === "string") partial.textContent = state.text;
      }
    } catch (error) {
      // Offline for a moment: try again later.
    }
    // Every 0.3 s while an answer is usually coming (the outline generator: about a second), then
    // slower for a language model's long answers.
    if (Date.now() - started > 10000) delay = Math.min(delay * 1.3, 3000);
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, delay);
})();
