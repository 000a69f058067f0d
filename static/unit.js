// Hạn Chót — the unit's page: progressive enhancement only; the page works without it.
// No inline styles (CSP): widths are set through the CSSOM, which the policy allows.
(function () {
  "use strict";

  // The countdown bar: the server rounds its width to a w-25/w-50/... class; refine it.
  document.querySelectorAll(".progress-bar[data-percent]").forEach(function (bar) {
    var percent = parseInt(bar.getAttribute("data-percent"), 10);
    if (!isNaN(percent)) {
      bar.classList.remove("w-25", "w-50", "w-75", "w-100");
      bar.style.width = Math.max(0, Math.min(100, percent)) + "%";
    }
  });

  // The upload form: list the chosen files and warn before sending too much.
  var form = document.getElementById("upload-form");
  var input = document.getElementById("documents");
  if (form && input) {
    var list = document.getElementById("documents-list");
    var warning = document.getElementById("documents-warning");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
    var sizeText = function (n) {
      if (n < 1024) { return n + " byte"; }
      if (n < 1024 * 1024) { return (n / 1024).toFixed(1).replace(".", ",") + " KB"; }
      return (n / 1048576).toFixed(1).replace(".", ",") + " MB";
    };
    var tooBig = function () {
      var total = 0;
      Array.prototype.forEach.call(input.files || [], function (f) { total += f.size; });
      return maxBytes && total > maxBytes;
    };
    input.addEventListener("change", function () {
      list.textContent = "";
      Array.prototype.forEach.call(input.files || [], function (f) {
        var li = document.createElement("li");
        li.textContent = f.name + " (" + sizeText(f.size) + ")";
        list.appendChild(li);
      });
      warning.classList.toggle("d-none", !tooBig());
    });
    form.addEventListener("submit", function (event) {
      if (tooBig()) {
        event.preventDefault();
        warning.classList.remove("d-none");
        return;
      }
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
    });
    // Back to a page kept in the browser's cache: the button works again.
    window.addEventListener("pageshow", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = false; }
    });
  }

  // The calendar address: a copy button where the clipboard is available.
  var url = document.getElementById("ics-url");
  var copy = document.getElementById("ics-copy");
  if (url && copy && navigator.clipboard) {
    copy.classList.remove("d-none");
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(url.value).then(function () {
        copy.textContent = copy.getAttribute("data-done");
      });
    });
    url.addEventListener("focus", function () { url.select(); });
  }
})();
