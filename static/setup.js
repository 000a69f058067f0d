// Hạn Chót — the campaign form, live: the grace end as the dates are typed, and
// a warning under any date that is not a working day.  Progressive enhancement
// only: without this file the server shows the same after submit.
(function () {
  "use strict";

  var form = document.getElementById("campaign-form");
  if (!form || !window.fetch) {
    return;
  }
  var graceUrl = form.getAttribute("data-grace-url");
  var dayUrl = form.getAttribute("data-day-url");
  var deadline = form.querySelector("[name=deadline]");
  var grace = form.querySelector("[name=grace_working_days]");
  var endText = document.getElementById("grace-end-text");
  var errorText = document.getElementById("grace-error");
  var explanation = document.getElementById("grace-explanation");
  var reason = form.querySelector("[name=reason]");
  var reasonNeeded = document.getElementById("reason-needed");

  // A date typed as 25/10/2019 (browsers without a date picker) is sent as 2019-10-25.
  function iso(value) {
    var text = (value || "").trim();
    var m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
    if (m) {
      return m[3] + "-" + ("0" + m[2]).slice(-2) + "-" + ("0" + m[1]).slice(-2);
    }
    return /^\d{4}-\d{2}-\d{2}$/.test(text) ? text : "";
  }

  function warningFor(input) {
    return form.querySelector('[data-warning-for="' + input.id + '"]');
  }

  function showWarning(input, message) {
    var target = warningFor(input);
    if (target) {
      target.textContent = message ? "⚠ " + message : "";
    }
  }

  function getJSON(url, params) {
    var query = new URLSearchParams(params).toString();
    return fetch(url + "?" + query, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().then(function (body) {
          return {ok: response.ok, body: body};
        });
      });
  }

  // -- the grace end ---------------------------------------------------------
  var graceTimer = null;
  var graceRequest = 0;

  function clearGrace(message) {
    endText.textContent = "—";
    errorText.textContent = message || "";
    explanation.replaceChildren();
  }

  function refreshGrace() {
    window.clearTimeout(graceTimer);
    graceTimer = window.setTimeout(function () {
      var day = iso(deadline.value);
      var days = (grace.value || "").trim();
      if (!day || days === "") {
        clearGrace("");
        showWarning(deadline, "");
        return;
      }
      var mine = ++graceRequest;
      getJSON(graceUrl, {deadline: day, grace: days}).then(function (result) {
        if (mine !== graceRequest) {
          return;  // an older answer arriving late
        }
        if (!result.ok) {
          clearGrace(result.body && result.body.error);
          return;
        }
        var body = result.body;
        endText.textContent = "24:00 " + body.grace_end_text;
        errorText.textContent = "";
        explanation.replaceChildren.apply(explanation, (body.explanation || []).map(function (line) {
          var item = document.createElement("li");
          item.textContent = line;
          return item;
        }));
        showWarning(deadline, body.deadline_warning);
      }).catch(function () { /* offline: the server checks again on submit */ });
    }, 250);
  }

  if (deadline && grace && endText && explanation) {
    ["input", "change"].forEach(function (type) {
      deadline.addEventListener(type, refreshGrace);
      grace.addEventListener(type, refreshGrace);
    });
  }

  // -- other dates: is it a working day? ---------------------------------------
  function checkDay(input) {
    var day = iso(input.value);
    if (!day) {
      showWarning(input, "");
      return;
    }
    getJSON(dayUrl, {day: day}).then(function (result) {
      if (iso(input.value) !== day) {
        return;
      }
      showWarning(input, result.ok ? result.body.warning : (result.body && result.body.error));
    }).catch(function () { /* the server checks again on submit */ });
  }

  Array.prototype.forEach.call(form.querySelectorAll("input[data-workday-check]"), function (input) {
    input.addEventListener("change", function () { checkDay(input); });
  });

  // -- edit: a moved date needs a reason ----------------------------------------
  if (reason && reasonNeeded) {
    var timeline = form.querySelectorAll("input[data-timeline]");
    var update = function () {
      var moved = Array.prototype.some.call(timeline, function (input) {
        return input.value !== input.defaultValue;
      });
      reasonNeeded.classList.toggle("d-none", !moved || reason.value.trim() !== "");
    };
    Array.prototype.forEach.call(timeline, function (input) {
      input.addEventListener("input", update);
      input.addEventListener("change", update);
    });
    reason.addEventListener("input", update);
  }
})();
