// Keeps the transitions' From/To suggestions in step with the task rows of the workflow page,
// so a transition can point at a task added on the same page before saving.
// A static file (no inline script): the pages run under a strict Content-Security-Policy.
(function () {
  "use strict";

  function keyFromTitle(title) {
    return title
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "")
      .slice(0, 60);
  }

  function taskRows() {
    var rows = [];
    document.querySelectorAll("input[name^='tasks-'][name$='-title']").forEach(function (title) {
      var prefix = title.name.slice(0, -"title".length);
      if (prefix.indexOf("__prefix__") !== -1) return;
      var deleted = document.querySelector("input[name='" + prefix + "DELETE']");
      if (deleted && deleted.checked) return;
      var keyInput = document.querySelector("input[name='" + prefix + "key']");
      var key = (keyInput && keyInput.value.trim()) || keyFromTitle(title.value);
      if (key) rows.push({ key: key, title: title.value.trim() || key });
    });
    return rows;
  }

  function refresh() {
    var list = document.getElementById("workflow-task-keys");
    if (!list) return;
    var seen = {};
    list.replaceChildren();
    taskRows().forEach(function (row) {
      if (seen[row.key]) return;
      seen[row.key] = true;
      var option = document.createElement("option");
      option.value = row.key;
      option.textContent = row.title;
      list.appendChild(option);
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target && /^tasks-/.test(event.target.name || "")) refresh();
  });
  document.addEventListener("change", refresh);
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    var group = document.getElementById("tasks-group");
    if (group) new MutationObserver(refresh).observe(group, { childList: true, subtree: true });
  });
})();
