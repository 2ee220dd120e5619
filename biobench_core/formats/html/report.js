/* biobench HTML leaderboard: sorting and filtering of the table #board, inlined into the page by
   biobench_core/formats/_html.py. Task panels open with no script (CSS :target on their #panel-N anchor). */
(function () {
  "use strict";
  var table = document.getElementById("board");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  rows.forEach(function (tr, i) { tr.dataset.order = String(i); });

  /* A cell's sort key: its data-v (a number, or "" for no score: always last), else its text. */
  function key(tr, col, numeric) {
    var td = tr.cells[col];
    if (!numeric) { return td.textContent.trim().toLowerCase(); }
    var v = td.getAttribute("data-v");
    return v === null || v === "" ? null : parseFloat(v);
  }

  function sortBy(th) {
    var col = parseInt(th.getAttribute("data-col"), 10);
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    /* numbers: highest first on the first click; text: A to Z first */
    var first = numeric ? "descending" : "ascending";
    var dir = current === first ? (first === "descending" ? "ascending" : "descending") : first;
    var sign = dir === "ascending" ? 1 : -1;
    Array.prototype.forEach.call(table.querySelectorAll("th[data-col]"), function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir);
    var keyed = rows.map(function (tr) { return [key(tr, col, numeric), +tr.dataset.order, tr]; });
    keyed.sort(function (a, b) {
      if (a[0] === null || b[0] === null) {
        return a[0] === b[0] ? a[1] - b[1] : (a[0] === null ? 1 : -1);
      }
      if (a[0] < b[0]) { return -sign; }
      if (a[0] > b[0]) { return sign; }
      return a[1] - b[1];
    });
    keyed.forEach(function (k) { tbody.appendChild(k[2]); });
  }

  Array.prototype.forEach.call(table.querySelectorAll("th[data-col] button.sort"), function (button) {
    button.addEventListener("click", function () { sortBy(button.parentNode); });
  });

  var filters = Array.prototype.slice.call(document.querySelectorAll("select.filter"));
  var count = document.getElementById("shown");

  function applyFilters() {
    var shown = 0;
    rows.forEach(function (tr) {
      var keep = filters.every(function (s) {
        return s.value === "" || tr.getAttribute("data-" + s.getAttribute("data-key")) === s.value;
      });
      tr.hidden = !keep;
      if (keep) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + rows.length + " rows shown"; }
  }

  filters.forEach(function (s) { s.addEventListener("change", applyFilters); });
  applyFilters();
}());
