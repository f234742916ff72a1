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

