// The workflow fields editor (ticketflower/admin_sites/fields_editor.py): adds rows, fills a new
// field's name from its label, shows the options box only for list types. The form works without
// this file; it is a static file because the pages' CSP forbids inline scripts.
(function () {
  "use strict";

  // The same as field_name_from_label in fields_editor.py.
  function nameFromLabel(label) {
    var text = label.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase();
    text = text.replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
    if (/^[0-9]/.test(text)) {
      text = "field_" + text;
    }
    return text.slice(0, 63).replace(/_+$/, "");
  }

  function part(row, name) {
    return row.querySelector('[data-part="' + name + '"]');
  }

  function showOptions(editor, row) {
    var choiceTypes = editor.dataset.choiceTypes.split(" ");
    var isList = choiceTypes.indexOf(part(row, "type").value) !== -1;
    row.querySelector("[data-fields-options] textarea").classList.toggle("hidden", !isList);
  }

  function renumber(editor) {
    editor.querySelectorAll("[data-fields-row]").forEach(function (row, position) {
      row.querySelector("[data-fields-number]").textContent = String(position + 1);
    });
  }

  function addRow(editor) {
    var rows = editor.querySelectorAll("[data-fields-row]");
    var next = 0;
    rows.forEach(function (row) {
      next = Math.max(next, Number(row.dataset.fieldsRow) + 1);
    });
    var html = editor.querySelector("template[data-fields-template]").innerHTML
      .split("__prefix__").join(String(next))
      .split("__number__").join(String(rows.length + 1));
    var holder = document.createElement("table");
    holder.innerHTML = html;
    var row = holder.querySelector("tbody");
    editor.querySelector("table").appendChild(row);
    showOptions(editor, row);
    part(row, "label").focus();
  }

  function setUp(editor) {
    editor.querySelectorAll("[data-fields-row]").forEach(function (row) {
      showOptions(editor, row);
    });
    var add = editor.querySelector("[data-fields-add]");
    add.hidden = false;
    add.addEventListener("click", function () {
      addRow(editor);
      renumber(editor);
    });
    editor.addEventListener("input", function (event) {
      var target = event.target;
      var row = target.closest("[data-fields-row]");
      if (!row) {
        return;
      }
      var name = part(row, "name");
      if (target === name) {
        // Once someone types a name, the label no longer changes it; clearing it hands it back.
        name.dataset.auto = name.value === "" ? "true" : "false";
      } else if (target === part(row, "label") && name.dataset.auto === "true") {
        name.value = nameFromLabel(target.value);
      }
    });
    editor.addEventListener("change", function (event) {
      var row = event.target.closest("[data-fields-row]");
      if (!row) {
        return;
      }
      if (event.target === part(row, "type")) {
        showOptions(editor, row);
      } else if (event.target === part(row, "remove")) {
        row.classList.toggle("opacity-50", event.target.checked);
      }
    });
  }

  function start() {
    document.querySelectorAll("[data-fields-editor]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
