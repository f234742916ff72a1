  // ---- sortable leaderboard
  var lb = document.getElementById("lb");
  lb.querySelectorAll("th").forEach(function (th, idx) {
    var asc = false;
    th.addEventListener("click", function () {
      var body = lb.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      asc = !asc;
      rows.sort(function (a, b) {
        var x = a.cells[idx].getAttribute("data-v"), y = b.cells[idx].getAttribute("data-v");
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x || "").localeCompare(String(y || ""));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });


  // ---- compact leaderboard: secondary lines and columns folded away; on by default when the table does not fit
  var lbBtn = document.getElementById("lb-compact"), lbBox = document.getElementById("lb-scroll");
  function setCompact(on) {
    lb.classList.toggle("compact", on);
    lbBtn.setAttribute("aria-pressed", on ? "true" : "false");
    lbBtn.textContent = on ? "show every column and interval" : "compact table";
  }
  if (lbBtn && lbBox) {
    setCompact(lbBox.scrollWidth > lbBox.clientWidth + 1);
    lbBtn.addEventListener("click", function () { setCompact(!lb.classList.contains("compact")); });
  }
