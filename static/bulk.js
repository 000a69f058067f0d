// Hạn Chót — the bulk bar of the units table: progressive enhancement only (without it, tick the units
// one by one, or choose "every unit matching the filter"; the server resolves both).
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var all = document.getElementById("bulk-all");
  var count = document.getElementById("bulk-count");
  var boxes = function () { return document.querySelectorAll("input.bulk-unit"); };
  var picked = function () {
    var codes = {};
    boxes().forEach(function (box) { if (box.checked) { codes[box.value] = true; } });
    return Object.keys(codes).length;
  };
  var refresh = function () {
    var n = picked();
    count.textContent = "(" + n + ")";
    if (all) {
      var total = boxes().length;
      all.checked = total > 0 && n * 2 >= total && Array.prototype.every.call(boxes(), function (b) { return b.checked; });
      all.indeterminate = n > 0 && !all.checked;
    }
  };
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.classList || !box.classList.contains("bulk-unit")) { return; }
    if (box.checked) { document.getElementById("bulk-scope-selected").checked = true; }
    refresh();
  });
  if (all) {
    all.classList.remove("d-none");
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      if (all.checked) { document.getElementById("bulk-scope-selected").checked = true; }
      refresh();
    });
  }
  refresh();
}());
