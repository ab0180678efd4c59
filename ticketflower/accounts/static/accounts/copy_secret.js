// "Copy" buttons next to a secret shown once (a new API token on the profile page).
// A static file (no inline script): the pages run under a strict Content-Security-Policy.
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copyTarget);
    if (!source) return;
    var text = source.textContent.trim();
    // Selected either way, so Ctrl+C works where the clipboard API is not allowed (plain HTTP).
    selectText(source);
    if (!navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = button.dataset.copiedText || "Copied";
    });
  });
})();
