// Hạn Chót — the criteria sheet: the score of each criterion and the total as the unit types.
// The server computes them with the same rules that score the submitted sheet (POST …/sheet/score);
// nothing is saved until "Lưu nháp" or "Nộp". Without JavaScript the page works the same, minus the live total.
(function () {
  "use strict";
  var form = document.getElementById("sheet-form");
  if (!form || !window.fetch || !window.FormData) { return; }
  var url = form.getAttribute("data-score-url");
  var timer = null, seq = 0;
  var set = function (id, text) { var el = document.getElementById(id); if (el) { el.textContent = text; } };
  var refresh = function () {
    var mine = ++seq;
    var data = new FormData(form);
    data.delete("action");
    fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || mine !== seq) { return; }
        Object.keys(body.points).forEach(function (code) { set("score-" + code, body.points[code]); });
        set("total", body.total);
        set("maximum", body.maximum);
        document.querySelectorAll(".live-error").forEach(function (el) {
          var code = el.id.slice("error-".length);
          el.textContent = body.errors[code] || "";
        });
      })
      .catch(function () { /* the saved page stays right; the live total is a convenience */ });
  };
  var later = function () { if (timer) { clearTimeout(timer); } timer = setTimeout(refresh, 250); };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
