  // ---- frame explorer
  var frames = D.frames, labels = D.labels, fields = D.fields;
  var ctSel = document.getElementById("f-ct"), runSel = document.getElementById("f-run");
  Array.from(new Set(frames.map(function (f) { return f.ct; }))).sort().forEach(function (ct) {
    var o = el("option", null, ct); o.value = ct; ctSel.appendChild(o);
  });
  labels.forEach(function (lab, i) { var o = el("option", null, lab); o.value = String(i); runSel.appendChild(o); });

  function capText(c) {
    if (!c) return "";
    try { return JSON.stringify(c).toLowerCase(); } catch (e) { return ""; }
  }
  frames.forEach(function (f) {
    f._text = (f.id + " " + f.ct + " " + f.runs.map(function (r) { return r ? capText(r.cap) + " " + (r.raw || "") : ""; }).join(" ")).toLowerCase();
    var q = f.runs.map(function (r) { return r ? (r.judge !== null && r.judge !== undefined ? r.judge : r.rl) : null; }).filter(function (x) { return x !== null && x !== undefined; });
    f._q = q.length ? Math.min.apply(null, q) : Infinity;
    var lat = f.runs.map(function (r) { return r && r.e2el !== null && r.e2el !== undefined ? r.e2el : 0; });
    f._lat = lat.length ? Math.max.apply(null, lat) : 0;
  });

  function value(v) {
    if (v === undefined) return el("span", "muted", "(missing)");
    if (Array.isArray(v)) {
      if (!v.length) return el("span", "muted", "[]");
      var ul = el("ul", "items");
      v.forEach(function (item) { ul.appendChild(txt("li", null, typeof item === "string" ? item : JSON.stringify(item))); });
      return ul;
    }
    if (v === null) return el("span", "muted", "null");
    return txt("span", null, typeof v === "string" ? v : JSON.stringify(v));
  }

  function card(f) {
    var box = el("div", "frame");
    var head = el("div", "fhead");
    if (typeof f.thumb === "string" && f.thumb.indexOf("data:image/jpeg;base64,") === 0) {
      var img = el("img", "thumb"); img.src = f.thumb; img.alt = "frame " + f.id; head.appendChild(img);
    } else {
      head.appendChild(el("div", "noimg", "no image"));
    }
    var h = el("div");
    h.appendChild(el("div", "fid", f.id));
    h.appendChild(el("div", "muted", f.ct));
    if (f.why) h.appendChild(el("span", "badge why", WHY[f.why] || f.why));
    head.appendChild(h);
    box.appendChild(head);

    var t = el("table", "cmp"), tr = el("tr"), cols = el("colgroup");
    cols.appendChild(el("col", "fname"));
    for (var c = 0; c <= labels.length; c++) cols.appendChild(el("col", "text"));
    t.appendChild(cols);
    t.style.minWidth = (130 + 190 * (labels.length + 1)) + "px";  // narrower columns scroll, never split words
    tr.appendChild(el("th", null, "field"));
    tr.appendChild(el("th", null, "reference"));
    labels.forEach(function (lab, i) {
      var th = el("th", null, lab), r = f.runs[i];
      if (r) th.appendChild(el("span", "badge " + safeCls(r.cat), r.cat));
      tr.appendChild(th);
    });
    t.appendChild(tr);
    var names = fields.slice();
    f.runs.forEach(function (r) {
      if (r && r.cap && typeof r.cap === "object") Object.keys(r.cap).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); });
    });
    names.forEach(function (name) {
      var row = el("tr");
      row.appendChild(el("td", "fname", name));
      var ref = el("td");
      if (f.ref) ref.appendChild(value(Object.prototype.hasOwnProperty.call(f.ref, name) ? f.ref[name] : undefined));
      else ref.appendChild(el("span", "muted", "–"));
      row.appendChild(ref);
      f.runs.forEach(function (r) {
        var td = el("td");
        if (!r) { td.appendChild(el("span", "muted", "(not in this run)")); }
        else if (r.cap && typeof r.cap === "object" && !Array.isArray(r.cap)) {
          td.appendChild(value(Object.prototype.hasOwnProperty.call(r.cap, name) ? r.cap[name] : undefined));
          var lvl = r.diff && Object.prototype.hasOwnProperty.call(r.diff, name) ? r.diff[name] : null;
          if (lvl === 1 || lvl === 2 || lvl === 3) td.classList.add("d" + lvl);
          if (r.ff && (r.ff.indexOf(name) >= 0 || r.ff.indexOf("extra:" + name) >= 0)) td.classList.add("failed");
        } else if (name === names[0]) {
          td.appendChild(el("span", "muted", "no parsable caption (see below)"));
        }
        row.appendChild(td);
      });
      t.appendChild(row);
    });
    var wrap = el("div", "scroll"); wrap.appendChild(t); box.appendChild(wrap);

    var info = el("div", "runinfo");
    f.runs.forEach(function (r, i) {
      if (!r) return;
      var d = el("div");
      var top = el("div"); top.appendChild(el("b", null, labels[i])); top.appendChild(el("span", "badge " + safeCls(r.cat), r.cat));
      d.appendChild(top);
      d.appendChild(el("div", null, "E2EL " + fmt(r.e2el, 3) + " s · TTFT " + fmt(r.ttft, 3) + " s"
        + (r.judge !== null && r.judge !== undefined ? " · judge " + fmt(r.judge, 2) + (r.judge_nc ? " (no caption)" : "") : "")
        + (r.rl !== null && r.rl !== undefined ? " · ROUGE-L " + fmt(r.rl, 1) : "")));
      if (r.why) { var w = txt("div"); w.appendChild(el("i", null, "judge: ")); w.appendChild(document.createTextNode(r.why)); if (LONG_TOKEN.test(r.why)) w.classList.add("longtok"); d.appendChild(w); }
      if (r.judge_failure) d.appendChild(el("div", "muted", "judge failed: " + r.judge_failure));
      ["hallucinated", "missed"].forEach(function (k) {
        if (r[k] && typeof r[k] === "object" && Object.keys(r[k]).length) d.appendChild(fieldItems(k, r[k]));
      });
      if (r.reasons && r.reasons.length) {
        var ul = el("ul", "items");
        r.reasons.forEach(function (x) { ul.appendChild(txt("li", null, x)); });
        d.appendChild(ul);
      }
      if (r.error) d.appendChild(txt("div", "muted", "error: " + r.error));
      if (r.raw !== undefined && r.raw !== null) d.appendChild(el("pre", "raw", r.raw));
      info.appendChild(d);
    });
    box.appendChild(info);
    return box;
  }

  var page = 0;
  function filtered() {
    var q = document.getElementById("f-q").value.trim().toLowerCase();
    var ct = ctSel.value, v = document.getElementById("f-v").value, ri = runSel.value, sort = document.getElementById("f-sort").value;
    var out = frames.filter(function (f) {
      if (ct && f.ct !== ct) return false;
      if (q && f._text.indexOf(q) < 0) return false;
      var cats = f.runs.filter(Boolean).map(function (r) { return r.cat; });
      if (v === "anyinvalid" && cats.every(function (c) { return c === "valid"; })) return false;
      if (v === "allvalid" && !cats.every(function (c) { return c === "valid"; })) return false;
      if (v === "disagree" && new Set(cats).size < 2) return false;
      if (ri !== "") { var r = f.runs[Number(ri)]; if (!r || r.cat === "valid") return false; }
      return true;
    });
    if (sort === "judge") out = out.slice().sort(function (a, b) { return a._q - b._q; });
    if (sort === "slow") out = out.slice().sort(function (a, b) { return b._lat - a._lat; });
    return out;
  }
  function draw() {
    var list = filtered(), host = document.getElementById("frames"), pager = document.getElementById("pager");
    var pages = Math.max(1, Math.ceil(list.length / PAGE));
    if (page >= pages) page = pages - 1;
    host.replaceChildren();
    list.slice(page * PAGE, (page + 1) * PAGE).forEach(function (f) { host.appendChild(card(f)); });
    if (!list.length) host.appendChild(el("p", "muted nomatch", frames.length ? "no frames match" : "no frames"));
    document.getElementById("f-count").textContent = list.length + " of " + frames.length + " frames"
      + (EX.sampled ? " embedded (of " + EX.total + " in the runs)" : "");
    pager.replaceChildren();
    var prev = el("button", null, "‹ previous"), next = el("button", null, "next ›");
    prev.disabled = page === 0; next.disabled = page >= pages - 1;
    prev.addEventListener("click", function () { page--; draw(); });
    next.addEventListener("click", function () { page++; draw(); });
    pager.appendChild(prev); pager.appendChild(next); pager.appendChild(el("span", "muted", "page " + (page + 1) + " of " + pages));
  }
  ["f-q", "f-ct", "f-v", "f-run", "f-sort"].forEach(function (id) {
    document.getElementById(id).addEventListener("input", function () { page = 0; draw(); });
  });
  draw();
