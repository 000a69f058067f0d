// Hạn Chót — dates typed and shown as dd/mm/yyyy (how Vietnamese officials write them), with a
// picker (vanillajs-datepicker, vendored in static/vendor with its licence; no CDN).  Native
// <input type=date> follows the browser's locale (mm/dd/yyyy in an English Chrome), so the date
// fields are text fields that the server reads as dd/mm/yyyy (web/dayfield.py); without this
// file they still work: type 25/10/2019.
(function () {
  "use strict";

  if (!window.Datepicker) {
    return;
  }
  var lang = (document.documentElement.getAttribute("lang") || "vi").slice(0, 2);
  var inputs = document.querySelectorAll("input[data-datepicker]");
  for (var i = 0; i < inputs.length; i += 1) {
    var input = inputs[i];
    var picker = new window.Datepicker(input, {
      buttonClass: "btn",
      format: "dd/mm/yyyy",
      language: lang === "vi" ? "vi" : "en",
      weekStart: 1,
      autohide: true,
      todayHighlight: true,
      showOnFocus: false,
      showOnClick: true,
      updateOnBlur: true
    });
    // The page's own scripts (setup.js) listen for input/change: tell them about a picked day.
    input.addEventListener("changeDate", function (event) {
      event.target.dispatchEvent(new Event("change", {bubbles: true}));
    });
    input.datepickerInstance = picker;
  }
}());
