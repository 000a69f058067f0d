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
    // The server's clock, not this device's: the Date of a small answer, asked once the page is shown
    // (the deadline is the server's; a phone's clock may be minutes off, or in another year in a test).
    var offset = 0;
    if (window.fetch) {
      var asked = Date.now();
      window.fetch(form.getAttribute("data-clock-url"), {method: "HEAD", cache: "no-store", credentials: "same-origin"})
        .then(function (response) {
          // (the first date: a server and a framework may each have added one, joined by ", ")
          var stamp = (response.headers.get("Date") || "").match(/\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/);
          var server = stamp ? Date.parse(stamp[0]) : NaN;
          if (!isNaN(server)) { offset = server + 500 - (asked + Date.now()) / 2; }  // Date has whole seconds
        })["catch"](function () { offset = 0; });
    }
    var serverNow = function () { return Date.now() + offset; };
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
      if (!window.XMLHttpRequest || !window.FormData) { return; }  // a plain post then
      // Send it ourselves to show the bytes sent; the server's received instant stays the rule.
      event.preventDefault();
      var box = document.getElementById("upload-progress");
      var bar = document.getElementById("upload-bar");
      var sent = document.getElementById("upload-sent");
      var late = document.getElementById("upload-late");
      var deadline = Date.parse(form.getAttribute("data-deadline-at") || "");
      var graceEnd = Date.parse(form.getAttribute("data-grace-ends-at") || "");
      var started = serverNow();
      box.classList.remove("d-none");
      // What passed while this upload runs; the server's answer (shown when it comes) says how it counts.
      var checkClock = function () {
        var now = serverNow();
        var text = "";
        if (started < graceEnd && now >= graceEnd) {
          text = form.getAttribute("data-closed-text");
        } else if (started < deadline && now >= deadline) {
          text = form.getAttribute("data-late-text");
        }
        if (text && late.textContent !== text) {
          late.textContent = text;
          late.classList.remove("d-none");
        }
      };
      var clock = window.setInterval(checkClock, 1000);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        bar.value = Math.round(100 * e.loaded / e.total);
        sent.textContent = form.getAttribute("data-sent-text").replace("{sent}", sizeText(e.loaded))
          .replace("{total}", sizeText(e.total));
        checkClock();
      });
      xhr.addEventListener("load", function () {
        window.clearInterval(clock);
        // The server's answer (the page after its redirect, with its message, or the form with what was
        // refused): shown as a plain post would show it.
        if (xhr.responseURL && window.history.replaceState) {
          window.history.replaceState(null, "", xhr.responseURL);
        }
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("error", function () {
        window.clearInterval(clock);
        form.submit();  // the network failed: fall back to the plain form post
      });
      xhr.send(new FormData(form));
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
