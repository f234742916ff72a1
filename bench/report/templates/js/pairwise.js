  // ---- pairwise ranking (sections/pairwise.html.j2): its figures are drawn by plots.js; with many runs the
  // table of pairs is long, so it can be cut to the significant differences
  (function () {
    var box = document.getElementById("pw-sig");
    if (!box) return;
    box.addEventListener("change", function () {
      document.querySelectorAll("table.pw-pairs tbody tr.nsig").forEach(function (tr) {
        tr.style.display = box.checked ? "none" : "";
      });
    });
  })();
