// Shows a masked secret when its "Reveal" button is pressed, and hides it again.
// The secret is in the page for company admins only; masking keeps it off shared screens.
// A static file (no inline script): the pages run under a strict Content-Security-Policy.
(function () {
  "use strict";

  function toggle(button) {
    var shown = document.getElementById(button.getAttribute("aria-controls"));
    if (!shown) return;
    var revealing = button.getAttribute("aria-pressed") !== "true";
    shown.textContent = revealing ? shown.dataset.secret : shown.dataset.masked;
    button.setAttribute("aria-pressed", revealing ? "true" : "false");
    button.textContent = revealing ? button.dataset.hideLabel : button.dataset.revealLabel;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-secret-reveal]");
    if (button) toggle(button);
  });
})();
