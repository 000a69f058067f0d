// The dashboard's action forms: each unit field's datalist is filled from the server as the officer
// types (GET <datalist data-suggest>?q=…, answered by dashboard.suggest), so any unit of a campaign of
// thousands can be found and the page carries no option lists.  Without JavaScript the field still
// takes a typed code.
(function () {
  "use strict";
  var DELAY_MS = 150;
  document.querySelectorAll("input[list]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list || !list.dataset.suggest) return;
    var timer = null;
    var asked = null;
    function ask() {
      var q = input.value.trim();
      if (q === asked) return;
      asked = q;
      fetch(list.dataset.suggest + "?q=" + encodeURIComponent(q),
            {headers: {Accept: "application/json"}, credentials: "same-origin"})
        .then(function (r) {
          if (!r.ok) { asked = null; return null; }  // refused or failed: ask again on the next keystroke
          return r.json();
        })
        .then(function (data) {
          if (!data || asked !== q) return;  // an older answer: a newer question is on its way
          list.replaceChildren.apply(list, data.units.map(function (u) {
            var option = document.createElement("option");
            option.value = u.code;
            // The browser filters a datalist by what is typed, with its diacritics: the name's unaccented
            // form beside it keeps "cai be" showing "UBND thị trấn Cái Bè", as the server found it.
            option.textContent = u.folded && u.folded !== u.name ? u.name + " · " + u.folded : u.name;
            return option;
          }));
        })
        .catch(function () { asked = null; });  // offline: ask again on the next keystroke
    }
    input.addEventListener("focus", ask);
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
  });
})();
