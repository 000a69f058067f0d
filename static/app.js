// Hạn Chót — progressive enhancement only; every page works without it.

// "Print the receipt" buttons (no inline handlers under the CSP).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
}());
