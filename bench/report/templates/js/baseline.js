
  // ---- baseline diff view: the two captions of each largest drop / gain side by side (as text, never markup)
  function answerCell(ans) {
    var td = el("td");
    if (!ans) { td.appendChild(el("span", "muted", "(no record)")); return td; }
    if (ans.raw !== null && ans.raw !== undefined) { td.appendChild(el("div", "muted", "no caption; the answer:")); td.appendChild(el("pre", "raw", ans.raw)); }
    if (ans.error) td.appendChild(el("div", "muted", "error: " + ans.error));
    return td;
  }
  function fieldText(v) {
    if (v === undefined) return null;
    if (Array.isArray(v)) return v.map(function (x) { return typeof x === "string" ? x : JSON.stringify(x); }).join(", ");
    return typeof v === "string" ? v : JSON.stringify(v);
  }
  function pairTable(p, base, run) {
    var t = el("table", "cmp basepair");
    var head = el("tr");
    head.appendChild(el("th", null, "field"));
    head.appendChild(el("th", null, base + " (baseline): " + fmt(p.base_score, 2) + " · " + p.base_cat));
    head.appendChild(el("th", null, run + ": " + fmt(p.cand_score, 2) + " · " + p.cand_cat));
    t.appendChild(head);
    var bc = p.base && p.base.cap, cc = p.cand && p.cand.cap;
    if (!bc || !cc) {
      var tr = el("tr");
      tr.appendChild(el("td", "fname", "answer"));
      [[p.base, bc], [p.cand, cc]].forEach(function (side) {
        tr.appendChild(side[1] ? txt("td", null, JSON.stringify(side[1], null, 1)) : answerCell(side[0]));
      });
      t.appendChild(tr);
      return t;
    }
    var names = fields.slice();
    Object.keys(bc).concat(Object.keys(cc)).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); });
    names.forEach(function (name) {
      var a = fieldText(bc[name]), b = fieldText(cc[name]);
      var tr = el("tr", a === b ? null : "chg");
      tr.appendChild(el("td", "fname", name));
      tr.appendChild(a === null ? el("td", "muted", "(missing)") : txt("td", null, a));
      tr.appendChild(b === null ? el("td", "muted", "(missing)") : txt("td", null, b));
      t.appendChild(tr);
    });
    return t;
  }
  if (D.baseline) {
    document.querySelectorAll(".basepairs[data-cmp]").forEach(function (box) {
      var cmp = D.baseline.runs[Number(box.getAttribute("data-cmp"))];
      var list = cmp && cmp[box.getAttribute("data-kind")];
      (list || []).forEach(function (p) {
        var item = el("details", "basepairitem");
        var sum = el("summary");
        var a = el("a", "fid", p.id);
        a.setAttribute("href", "#frame=" + encodeURIComponent(p.id));
        sum.appendChild(a);
        sum.appendChild(el("span", null, "  " + fmt(p.base_score, 2) + " → " + fmt(p.cand_score, 2) + " (" + (p.diff > 0 ? "+" : "") + fmt(p.diff, 2) + ")"));
        item.appendChild(sum);
        item.appendChild(pairTable(p, D.baseline.baseline, cmp.run));
        if (box.children.length < 3) item.open = true;  // the three largest open; the rest one click away
        box.appendChild(item);
      });
    });
  }
