// Hạn Chót — progressive enhancement only; every page works without it.

// A mailed sign-in or reset link carries its token after "#" (never sent to the server, so never in an
// access log): put it in the form that posts it, and drop it from the address bar and history.
(function () {
  var token = window.location.hash.slice(1);
  var fields = document.querySelectorAll('input[data-from-fragment]');
  if (!token || !fields.length) { return; }
  for (var i = 0; i < fields.length; i++) { if (!fields[i].value) { fields[i].value = decodeURIComponent(token); } }
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
}());

// "Print the receipt" buttons (no inline handlers under the CSP).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
}());
