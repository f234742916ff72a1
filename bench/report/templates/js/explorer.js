  // ---- frame explorer: filters, detail cards or a grid, frames opened large, deep links (#frame=ID), keys,
  // word diffs against the reference or a baseline run, and the judge's items marked where they occur.
  // Everything a model or judge wrote goes into the page as text nodes (el/txt/createTextNode), never as HTML.
  performance.mark("capbench:explorer-start");
  var frames = D.frames, labels = D.labels, fields = D.fields;
  var GRID_PAGE = 120;
  var $ = function (id) { return document.getElementById(id); };
  var ctSel = $("f-ct"), runSel = $("f-run"), diffSel = $("f-diff"), modeSel = $("f-mode");
  var byId = Object.create(null);
  frames.forEach(function (f, i) { byId[f.id] = f; f._i = i; });
  Array.from(new Set(frames.map(function (f) { return f.ct; }))).sort().forEach(function (ct) {
    var o = el("option", null, ct); o.value = ct; ctSel.appendChild(o);
  });
  labels.forEach(function (lab, i) { var o = el("option", null, lab); o.value = String(i); runSel.appendChild(o); });
  var hasRef = frames.some(function (f) { return f.ref && typeof f.ref === "object"; });
  (function () {
    var none = el("option", null, "no diff"); none.value = "";
    if (hasRef) { var o = el("option", null, "reference"); o.value = "ref"; diffSel.appendChild(o); }
    labels.forEach(function (lab, i) { var o = el("option", null, "run " + lab); o.value = "run:" + i; diffSel.appendChild(o); });
    diffSel.appendChild(none);
    diffSel.value = hasRef ? "ref" : labels.length > 1 ? "run:0" : "";  // no reference: against the first run
  })();

  function capText(c) {
    if (!c) return "";
    try { return JSON.stringify(c).toLowerCase(); } catch (e) { return ""; }
  }
  // precomputed once: what the filters and orders read (search text, worst quality, slowest run, outcomes)
  frames.forEach(function (f) {
    f._text = (f.id + " " + f.ct + " " + f.runs.map(function (r) { return r ? capText(r.cap) + " " + (r.raw || "") : ""; }).join(" ")).toLowerCase();
    var q = f.runs.map(function (r) { return r ? (r.judge !== null && r.judge !== undefined ? r.judge : r.rl) : null; }).filter(function (x) { return x !== null && x !== undefined; });
    f._q = q.length ? Math.min.apply(null, q) : Infinity;
    var lat = f.runs.map(function (r) { return r && r.e2el !== null && r.e2el !== undefined ? r.e2el : 0; });
    f._lat = lat.length ? Math.max.apply(null, lat) : 0;
    var cats = f.runs.filter(Boolean).map(function (r) { return r.cat; });
    f._allValid = cats.every(function (c) { return c === "valid"; });
    f._disagree = new Set(cats).size > 1;
  });

  // ---- word diff: the longest common subsequence of words (case and surrounding punctuation ignored). Our own
  // 30 lines rather than a diff library: the report is one offline file whose CSP runs only its own inline
  // script (no CDN, no network), and a library (jsdiff, ~30 KB) would be bigger than this explorer.
  var DIFF_MAX_CELLS = 250000;  // above n x m words, the whole field is marked changed (no quadratic table)
  function normWord(w) {
    var s = String(w).toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
    return s || String(w);
  }
  // base, cand: arrays of words -> {ins: per cand word, true if not in the base; del: per position 0..cand.length,
  // the base words missing before that cand word}
  function wordDiff(base, cand) {
    var n = base.length, m = cand.length, i, j;
    var ins = new Array(m).fill(false), del = [];
    for (j = 0; j <= m; j++) del.push([]);
    if (n * m > DIFF_MAX_CELLS) { ins.fill(true); del[m] = base.slice(); return {ins: ins, del: del}; }
    var a = base.map(normWord), b = cand.map(normWord), L = [];
    for (i = 0; i <= n; i++) L.push(new Uint32Array(m + 1));
    for (i = n - 1; i >= 0; i--) {
      for (j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    }
    i = 0; j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) { i++; j++; }
      else if (L[i + 1][j] >= L[i][j + 1]) { del[j].push(base[i]); i++; }
      else { ins[j] = true; j++; }
    }
    while (i < n) del[m].push(base[i++]);
    while (j < m) ins[j++] = true;
    return {ins: ins, del: del};
  }

  // ---- the judge's items in the text: [start, end) ranges, merged. An item is found as a case-insensitive
  // substring (or its quoted part, e.g. lead-in 'This image shows'), else by its words (3+ letters, not
  // stop words) where they occur as whole words.
  var STOP = new Set("the and with for from into onto over under are was were has have its this that not of".split(" "));
  var WORD = /[\p{L}\p{N}]+/gu;
  function itemList(v) { return (Array.isArray(v) ? v : [v]).filter(function (x) { return x !== null && x !== undefined; }).map(String); }
  function markRanges(text, items) {
    var low = text.toLowerCase(), out = [];
    items.forEach(function (item) {
      var probes = [item.trim().toLowerCase()], quoted = /['"\u2018\u201c]([^'"\u2019\u201d]{3,})['"\u2019\u201d]/.exec(item);
      if (quoted) probes.push(quoted[1].trim().toLowerCase());
      var found = false;
      probes.forEach(function (s) {
        if (found || !s) return;
        for (var k = low.indexOf(s); k >= 0; k = low.indexOf(s, k + s.length)) { out.push([k, k + s.length]); found = true; }
      });
      if (found) return;
      var words = new Set((probes[0].match(WORD) || []).filter(function (w) { return w.length >= 3 && !STOP.has(w); }));
      if (!words.size) return;
      var m; WORD.lastIndex = 0;
      while ((m = WORD.exec(low))) if (words.has(m[0])) out.push([m.index, m.index + m[0].length]);
    });
    out.sort(function (x, y) { return x[0] - y[0]; });
    var merged = [];
    out.forEach(function (r) {
      var last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]); else merged.push([r[0], r[1]]);
    });
    return merged;
  }
  // text[a, b) into parent, the parts inside marks as <mark>
  function appendMarked(parent, text, a, b, marks) {
    var pos = a;
    marks.forEach(function (r) {
      var s = Math.max(r[0], pos), e = Math.min(r[1], b);
      if (s >= e) return;
      if (s > pos) parent.appendChild(document.createTextNode(text.slice(pos, s)));
      parent.appendChild(el("mark", "hal", text.slice(s, e)));
      pos = e;
    });
    if (pos < b) parent.appendChild(document.createTextNode(text.slice(pos, b)));
  }
  // a string with its words diffed against base (null: no diff) and the marks: <ins>/<del>/<mark>, built by DOM
  function rich(text, base, marks) {
    var span = el("span");
    if (LONG_TOKEN.test(text) || (base !== null && LONG_TOKEN.test(base))) span.classList.add("longtok");
    var toks = [], re = /\S+/g, m;
    while ((m = re.exec(text))) toks.push([m.index, m.index + m[0].length]);
    var d = base === null ? null : wordDiff(base.match(/\S+/g) || [], toks.map(function (t) { return text.slice(t[0], t[1]); }));
    var pos = 0, open = null;
    toks.forEach(function (t, j) {
      var dels = d ? d.del[j] : [];
      if (dels.length) open = null;
      if (d && d.ins[j] && open) { appendMarked(open, text, pos, t[1], marks); pos = t[1]; return; }
      appendMarked(span, text, pos, t[0], marks);
      if (dels.length) { span.appendChild(el("del", null, dels.join(" "))); span.appendChild(document.createTextNode(" ")); }
      open = d && d.ins[j] ? span.appendChild(el("ins")) : null;
      appendMarked(open || span, text, t[0], t[1], marks);
      pos = t[1];
    });
    appendMarked(span, text, pos, text.length, marks);
    if (d && d.del[toks.length].length) {
      if (toks.length) span.appendChild(document.createTextNode(" "));
      span.appendChild(el("del", null, d.del[toks.length].join(" ")));
    }
    span.querySelectorAll("mark.hal").forEach(function (mk) {  // one <mark> per run of marked words
      var prev = mk.previousSibling;
      if (prev && prev.nodeType === 1 && prev.tagName === "MARK") { prev.textContent += mk.textContent; mk.remove(); }
    });
    return span;
  }
  function scalar(v) { return typeof v === "string" ? v : JSON.stringify(v); }
  // one field's value: diffed against base (undefined: no diff), the judge's hallucinated items marked
  function value(v, base, hal) {
    if (v === undefined) return el("span", "muted", "(missing)");
    var diff = base !== undefined && base !== null;
    if (Array.isArray(v)) {
      var baseItems = diff ? (Array.isArray(base) ? base : [base]).map(function (x) { return normWord(scalar(x)); }) : null;
      var mine = v.map(function (x) { return normWord(scalar(x)); });
      var ul = el("ul", "items");
      v.forEach(function (item, k) {
        var s = scalar(item), li = el("li");
        var body = rich(s, null, markRanges(s, hal));
        if (body.classList.contains("longtok")) li.classList.add("longtok");
        if (diff && baseItems.indexOf(mine[k]) < 0) { var ins = el("ins"); ins.appendChild(body); li.appendChild(ins); }
        else li.appendChild(body);
        ul.appendChild(li);
      });
      if (diff) (Array.isArray(base) ? base : [base]).forEach(function (x, k) {
        if (mine.indexOf(baseItems[k]) < 0) { var li = txt("li", "gone"); li.appendChild(el("del", null, scalar(x))); ul.appendChild(li); }
      });
      if (!ul.childNodes.length) return el("span", "muted", "[]");
      return ul;
    }
    if (v === null) return el("span", "muted", "null");
    var s = scalar(v);
    return rich(s, diff ? (Array.isArray(base) ? base.map(scalar).join(", ") : scalar(base)) : null, markRanges(s, hal));
  }

  function thumbOf(f, cls) {
    if (typeof f.thumb === "string" && f.thumb.indexOf("data:image/jpeg;base64,") === 0) {
      var img = el("img", cls); img.src = f.thumb; img.alt = "frame " + f.id; img.setAttribute("data-open", f.id);
      img.title = "open large (Enter)";
      return img;
    }
    return el("div", "noimg", "no image");
  }
  function own(o, k) { return o && typeof o === "object" && Object.prototype.hasOwnProperty.call(o, k); }
  function diffBase(f, name) {  // the value this field is diffed against, undefined for none; and which run is the base
    var d = diffSel.value;
    if (d === "ref") return f.ref && own(f.ref, name) ? f.ref[name] : undefined;
    if (d.indexOf("run:") === 0) {
      var r = f.runs[Number(d.slice(4))];
      return r && r.cap && own(r.cap, name) ? r.cap[name] : undefined;
    }
    return undefined;
  }

  function card(f) {
    var box = el("div", "frame");
    box.setAttribute("data-id", f.id);
    var head = el("div", "fhead");
    head.appendChild(thumbOf(f, "thumb"));
    var h = el("div");
    h.appendChild(el("div", "fid", f.id));
    h.appendChild(el("div", "muted", f.ct));
    if (f.why) h.appendChild(el("span", "badge why", WHY[f.why] || f.why));
    head.appendChild(h);
    box.appendChild(head);

    var baseRun = diffSel.value.indexOf("run:") === 0 ? Number(diffSel.value.slice(4)) : -1;
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
      if (i === baseRun) th.appendChild(el("span", "badge base", "diff base"));
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
      if (f.ref) ref.appendChild(value(own(f.ref, name) ? f.ref[name] : undefined, undefined, []));
      else ref.appendChild(el("span", "muted", "–"));
      row.appendChild(ref);
      var base = diffBase(f, name);
      f.runs.forEach(function (r, i) {
        var td = el("td");
        if (!r) { td.appendChild(el("span", "muted", "(not in this run)")); }
        else if (r.cap && typeof r.cap === "object" && !Array.isArray(r.cap)) {
          var hal = own(r.hallucinated, name) ? itemList(r.hallucinated[name]) : [];
          td.appendChild(value(own(r.cap, name) ? r.cap[name] : undefined, i === baseRun ? undefined : base, hal));
          if (own(r.missed, name) && itemList(r.missed[name]).length) {
            var miss = el("div", "missed");
            miss.appendChild(el("span", "mk", "missed:"));
            itemList(r.missed[name]).forEach(function (x) { miss.appendChild(txt("span", "mi", x)); });
            td.appendChild(miss);
          }
          var lvl = r.diff && own(r.diff, name) ? r.diff[name] : null;
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

  // ---- grid mode: a tile per frame (thumbnail, id, per run: validity and score)
  var SHORT = {valid: "ok", rule_violation: "rule", schema_invalid: "schema", not_json: "json", truncated: "trunc",
               transport_error: "error", bad_input: "input", refused: "refused"};
  function tile(f) {
    var box = el("div", "tile");
    box.setAttribute("data-id", f.id);
    box.appendChild(thumbOf(f, "gthumb"));
    box.appendChild(txt("div", "tid", f.id));
    var ul = el("div", "truns");
    f.runs.forEach(function (r, i) {
      var row = el("div", "trun");
      row.appendChild(txt("span", "tl", labels[i]));
      if (!r) { row.appendChild(el("span", "muted", "–")); ul.appendChild(row); return; }
      row.appendChild(el("span", "badge " + safeCls(r.cat), SHORT[r.cat] || r.cat));
      var q = r.judge !== null && r.judge !== undefined ? fmt(r.judge, 1) : (r.rl !== null && r.rl !== undefined ? fmt(r.rl, 0) : "");
      if (q) row.appendChild(el("span", "tq", q));
      ul.appendChild(row);
    });
    box.appendChild(ul);
    return box;
  }

  // ---- filtering, pages, the current frame
  var page = 0, list = frames, cur = null;  // cur: the current frame's id (deep link, keys, clicks)
  function filtered() {
    var q = $("f-q").value.trim().toLowerCase();
    var ct = ctSel.value, v = $("f-v").value, ri = runSel.value, sort = $("f-sort").value;
    var out = frames.filter(function (f) {
      if (ct && f.ct !== ct) return false;
      if (q && f._text.indexOf(q) < 0) return false;
      if (v === "anyinvalid" && f._allValid) return false;
      if (v === "allvalid" && !f._allValid) return false;
      if (v === "disagree" && !f._disagree) return false;
      if (ri !== "") { var r = f.runs[Number(ri)]; if (!r || r.cat === "valid") return false; }
      return true;
    });
    if (sort === "judge") out = out.slice().sort(function (a, b) { return a._q - b._q || a._i - b._i; });
    if (sort === "slow") out = out.slice().sort(function (a, b) { return b._lat - a._lat || a._i - b._i; });
    return out;
  }
  function grid() { return modeSel.value === "grid"; }
  function perPage() { return grid() ? GRID_PAGE : PAGE; }
  function draw() {
    var host = $("frames"), pager = $("pager"), size = perPage();
    var pages = Math.max(1, Math.ceil(list.length / size));
    if (page >= pages) page = pages - 1;
    host.replaceChildren();
    host.className = grid() ? "gridmode" : "";
    list.slice(page * size, (page + 1) * size).forEach(function (f) {
      var node = grid() ? tile(f) : card(f);
      if (f.id === cur) node.classList.add("current");
      host.appendChild(node);
    });
    if (!list.length) host.appendChild(el("p", "muted nomatch", frames.length ? "no frames match" : "no frames"));
    $("f-count").textContent = list.length + " of " + frames.length + " frames"
      + (EX.sampled ? " embedded (of " + EX.total + " in the runs)" : "");
    pager.replaceChildren();
    var prev = el("button", null, "‹ previous"), next = el("button", null, "next ›");
    prev.disabled = page === 0; next.disabled = page >= pages - 1;
    prev.addEventListener("click", function () { page--; draw(); });
    next.addEventListener("click", function () { page++; draw(); });
    pager.appendChild(prev); pager.appendChild(next); pager.appendChild(el("span", "muted", "page " + (page + 1) + " of " + pages));
  }
  function refilter() { list = filtered(); page = 0; draw(); }
  var searchTimer = null;
  $("f-q").addEventListener("input", function () {  // debounced: typing does not redraw on every key
    clearTimeout(searchTimer); searchTimer = setTimeout(refilter, 150);
  });
  ["f-ct", "f-v", "f-run", "f-sort"].forEach(function (id) { $(id).addEventListener("input", refilter); });
  diffSel.addEventListener("input", draw);
  modeSel.addEventListener("input", function () {
    var idx = cur === null ? -1 : list.indexOf(byId[cur]);
    page = idx >= 0 ? Math.floor(idx / perPage()) : 0;
    draw();
    if (idx >= 0) scrollToCurrent();
  });

  function scrollToCurrent() {
    var node = document.querySelector("#frames .current");
    if (!node) return;
    var how = {block: grid() ? "nearest" : "start"};
    node.scrollIntoView(how);
    // thumbnails and tables above it may still change its place in this first frame: align again
    requestAnimationFrame(function () { if (node.isConnected) node.scrollIntoView(how); });
  }
  function setHash(id) {  // the URL follows the current frame, without a history entry per key press
    var h = "#frame=" + encodeURIComponent(id);
    if (location.hash !== h) history.replaceState(null, "", h);
  }
  // make frame `id` current: its page (filters cleared if they hide it), marked and scrolled to; detail
  // mode unless keepMode (keys in grid mode move the selection)
  function openFrame(id, keepMode) {
    var f = byId[id];
    var miss = $("f-miss");
    if (!f) {
      miss.textContent = "frame " + id + " is not embedded in this report" + (EX.sampled ? " (its explorer holds a sample; every frame is in the Parquet file)" : "") + ".";
      miss.hidden = false;
      return false;
    }
    miss.hidden = true;
    if (!keepMode && grid()) modeSel.value = "detail";
    if (list.indexOf(f) < 0) {
      ["f-q", "f-ct", "f-v", "f-run"].forEach(function (k) { $(k).value = ""; });
      list = filtered();
    }
    cur = id;
    page = Math.floor(list.indexOf(f) / perPage());
    draw();
    scrollToCurrent();
    setHash(id);
    return true;
  }
  function step(delta) {
    if (!list.length) return;
    var idx = cur === null ? -1 : list.indexOf(byId[cur]);
    if (idx < 0) idx = delta > 0 ? page * perPage() - 1 : page * perPage() + 1;
    var next = Math.min(list.length - 1, Math.max(0, idx + delta));
    openFrame(list[next].id, true);
    if (zoom.hidden === false) showLarge(list[next]);
  }

  // ---- a frame opened large: the embedded larger image (bench/report/large.py), else the thumbnail, and say which
  var zoom = $("zoom"), zoomImg = $("zoom-img"), zoomCap = $("zoom-cap");
  function showLarge(f) {
    var big = f.large && typeof f.large.src === "string" && f.large.src.indexOf("data:image/jpeg;base64,") === 0 ? f.large : null;
    var src = big ? big.src : (typeof f.thumb === "string" && f.thumb.indexOf("data:image/jpeg;base64,") === 0 ? f.thumb : null);
    zoomImg.hidden = !src;
    if (src) { zoomImg.src = src; zoomImg.alt = "frame " + f.id; }
    zoomCap.replaceChildren(el("b", null, f.id));
    var note;
    if (!src) note = "no image";
    else if (!big) note = "only the thumbnail is embedded (the report's size budget for large images was spent on other frames)";
    else if (big.w === big.sw && big.h === big.sh) note = big.w + " × " + big.h + " px, as sent to the model";
    else note = big.w + " × " + big.h + " px, reduced to fit the report (sent to the model at " + big.sw + " × " + big.sh + ")";
    zoomCap.appendChild(el("span", "muted", " · " + note + " · Esc closes, j/k next/previous"));
    zoom.hidden = false;
    cur = f.id;
    setHash(f.id);
  }
  function closeLarge() { zoom.hidden = true; zoomImg.removeAttribute("src"); }
  zoom.addEventListener("click", function (e) { if (e.target === zoom || e.target.id === "zoom-close") closeLarge(); });

  $("frames").addEventListener("click", function (e) {
    var t = e.target;
    var opener = t.closest ? t.closest("[data-open]") : null;
    var tileNode = t.closest ? t.closest(".tile") : null;
    if (tileNode) { openFrame(tileNode.getAttribute("data-id")); return; }  // grid: a tile opens its detail card
    if (opener) { var f = byId[opener.getAttribute("data-open")]; if (f) { cur = f.id; showLarge(f); markCurrent(); } return; }
    var cardNode = t.closest ? t.closest(".frame") : null;
    if (cardNode && cardNode.getAttribute("data-id") !== cur) { cur = cardNode.getAttribute("data-id"); setHash(cur); markCurrent(); }
  });
  function markCurrent() {
    document.querySelectorAll("#frames .current").forEach(function (n) { n.classList.remove("current"); });
    document.querySelectorAll("#frames [data-id]").forEach(function (n) { if (n.getAttribute("data-id") === cur) n.classList.add("current"); });
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var tag = (e.target && e.target.tagName) || "";
    if (e.key === "Escape") { if (!zoom.hidden) { closeLarge(); e.preventDefault(); } return; }
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || (e.target && e.target.isContentEditable)) return;
    if (e.key === "j" || e.key === "ArrowRight") { step(1); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowLeft") { step(-1); e.preventDefault(); }
    else if ((e.key === "Enter" && tag !== "BUTTON" && tag !== "A") || e.key === "o") {  // Enter on a button is its click
      var f = cur !== null ? byId[cur] : list[page * perPage()];
      if (f) { cur = f.id; markCurrent(); showLarge(f); e.preventDefault(); }
    }
  });

  // #frame=ID (encoded or not: another view may set location.hash = "frame=" + id)
  function hashFrame() {
    var h = location.hash.replace(/^#/, "");
    if (h.indexOf("frame=") !== 0) return null;
    var raw = h.slice(6);
    try { return decodeURIComponent(raw); } catch (err) { return raw; }
  }
  function followHash() {
    var id = hashFrame();
    if (id === null) return;
    if (!zoom.hidden) closeLarge();
    if (openFrame(id)) performance.mark("capbench:frame-open");
  }
  window.addEventListener("hashchange", followHash);

  var LG = EX.large;
  if (LG && LG.text) $("f-large").textContent = LG.text;
  list = filtered();
  if (hashFrame() === null || !byId[hashFrame()]) draw();  // a deep link to an embedded frame draws its own page
  performance.mark("capbench:explorer-ready");
  followHash();
  // for other views, tests and benchmarks/report_size.py: open a frame, the embedded ids, the diff and marks
  window.capbenchExplorer = Object.freeze({open: function (id) { return openFrame(String(id)); },
                                           ids: function () { return frames.map(function (f) { return f.id; }); },
                                           wordDiff: wordDiff, markRanges: markRanges});
