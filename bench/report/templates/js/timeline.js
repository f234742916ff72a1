  // ---- timeline (bench/report/timeline.py): everything from runs goes in with textContent / title, never as HTML
  (function () {
    var T = D.timeline;
    if (!T || !T.applicable || !document.getElementById("tl-view")) return;
    var COL = 64, LAB = 190;
    var BF = T.boundary_fields, LANES = T.lane_fields;
    var PALETTE = ["#cfe3f7", "#fde2c4", "#d6efd0", "#f3d1e6", "#e6e0f6", "#fff1b3", "#d2f0ee", "#f6d5cf", "#e3e8c8", "#dcdcdc"];
    var thumbs = {};
    (D.frames || []).forEach(function (f) {
      if (typeof f.thumb === "string" && f.thumb.indexOf("data:image/jpeg;base64,") === 0) thumbs[f.id] = f.thumb;
    });
    var status = document.getElementById("tl-status");

    function openFrame(fr) {
      status.textContent = "";
      if (!fr.emb) {
        status.textContent = "frame " + fr.id + " is not embedded in the explorer (sampled out); every frame is in the Parquet file";
        return;
      }
      // the explorer's own opener: the frame's page (filters cleared if they hide it), marked, scrolled to and
      // the URL's #frame=ID set; without it (never expected), the deep link alone
      if (window.capbenchExplorer && window.capbenchExplorer.open) window.capbenchExplorer.open(fr.id);
      else location.hash = "frame=" + encodeURIComponent(fr.id);
    }

    function bits(mask) {
      var out = [];
      if (mask < 0) return out;
      BF.forEach(function (f, b) { if (mask & (1 << b)) out.push(f); });
      return out;
    }
    function count(mask, fieldsMask) {
      var n = 0;
      for (var b = 0; b < BF.length; b++) if ((mask & fieldsMask) & (1 << b)) n++;
      return n;
    }
    function label(grid, text, extra) {
      var l = el("div", "tl-lab", text);
      if (extra) l.appendChild(el("span", "ci", extra));
      l.title = text + (extra ? " " + extra : "");
      grid.appendChild(l);
    }
    function show(v) {
      if (v === null || v === undefined) return "(no caption)";
      return Array.isArray(v) ? (v.length ? v.join(", ") : "(no objects)") : String(v);
    }

    function drawVideo(v) {
      var host = document.getElementById("tl-view");
      host.replaceChildren();
      var n = v.frames.length;
      var cut = {};
      v.cuts.forEach(function (j) { cut[j + 1] = true; });
      host.appendChild(el("div", "muted", v.video + " · " + n + " frames · " + v.cuts.length + " true cut" + (v.cuts.length === 1 ? "" : "s")
        + (v.cut_short ? " · the first " + n + " frames shown (" + v.cut_short + " more in the Parquet file)" : "")));

      var pv = el("div", "tl-previews");
      v.previews.forEach(function (p) {
        var fig = el("figure");
        if (typeof p.uri === "string" && p.uri.indexOf("data:image/webp;base64,") === 0) {
          var img = el("img", "tl-preview"); img.src = p.uri; img.alt = "preview " + p.label; fig.appendChild(img);
        } else {
          fig.appendChild(el("div", "tl-nopv", p.why || "no preview"));
        }
        var t0 = p.first !== null && p.first !== undefined ? v.frames[p.first].t : null;
        var t1 = p.last !== null && p.last !== undefined ? v.frames[p.last].t : null;
        var span = t0 === null ? "" : " · " + fmt(t0, 1) + (t1 !== null && t1 !== t0 ? "–" + fmt(t1, 1) : "") + " s";
        fig.appendChild(el("figcaption", null, p.label + span
          + (p.frames ? " · " + p.frames + " frame" + (p.frames === 1 ? "" : "s") + " @ " + p.fps + " fps" : "")));
        if (p.first !== null && p.first !== undefined) fig.addEventListener("click", function () { openFrame(v.frames[p.first]); });
        pv.appendChild(fig);
      });
      if (v.previews.length) host.appendChild(pv);

      var grid = el("div", "tl-grid");
      grid.style.gridTemplateColumns = LAB + "px repeat(" + n + ", " + COL + "px)";
      function cell(cls, i, text) {
        var c = el("div", "tl-cell " + (cls || "") + (cut[i] ? " cut" : ""), text);
        c.addEventListener("click", function () { openFrame(v.frames[i]); });
        return c;
      }
      // frames
      label(grid, "frames");
      v.frames.forEach(function (fr, i) {
        var c = cell("", i);
        c.style.height = "auto";
        if (thumbs[fr.id]) { var im = el("img", "tl-thumb"); im.src = thumbs[fr.id]; im.alt = fr.id; c.appendChild(im); }
        else c.appendChild(el("div", "tl-noth", fr.emb ? "no image" : "not embedded"));
        c.title = fr.id + " · " + fmt(fr.t, 2) + " s · shot " + (fr.shot === null ? "unknown" : fr.shot);
        grid.appendChild(c);
      });
      label(grid, "time (s)");
      v.frames.forEach(function (fr, i) { grid.appendChild(cell("tl-time", i, fmt(fr.t, 1))); });
      label(grid, "shot (true cuts)");
      v.frames.forEach(function (fr, i) {
        var start = i === 0 || v.frames[i - 1].shot !== fr.shot;
        grid.appendChild(cell("tl-shot", i, start ? (fr.shot === null ? "?" : fr.shot) : ""));
      });

      // boundaries per run
      grid.appendChild(el("div", "tl-sec", "boundaries (at least k fields change)"));
      v.runs.forEach(function (r, ri) {
        label(grid, D.labels[ri], "k=" + r.k);
        v.frames.forEach(function (fr, i) {
          var c = cell("tl-b", i);
          if (i > 0) {
            var m = r.changes[i - 1], changed = m < 0 ? [] : bits(m & r.fields_mask), isB = m >= 0 && count(m, r.fields_mask) >= r.k;
            if (isB) { c.classList.add(cut[i] ? "hit" : "fp"); c.textContent = String(changed.length); }
            else if (cut[i]) c.classList.add("miss");
            c.title = (m < 0 ? "no caption on one side" : changed.length + " of " + bits(r.fields_mask).length + " fields change"
              + (changed.length ? ": " + changed.join(", ") : "")) + (cut[i] ? " · true cut" : "");
          }
          grid.appendChild(c);
        });
      });

      // one lane per field and run
      LANES.forEach(function (field) {
        var bit = 1 << BF.indexOf(field);
        var colours = {};
        grid.appendChild(el("div", "tl-sec", field));
        v.runs.forEach(function (r, ri) {
          var vals = r.values[field], within = 0, holds = 0;
          for (var j = 0; j < n - 1; j++) {
            var fa = v.frames[j], fb = v.frames[j + 1];
            if (fa.shot === null || fa.shot !== fb.shot || r.changes[j] < 0) continue;
            within++; if (!(r.changes[j] & bit)) holds++;
          }
          label(grid, D.labels[ri], within ? Math.round(100 * holds / within) + "%" : "–");
          var i = 0, seg = 0;
          while (i < n) {
            var missing = vals[i] === null || vals[i] === undefined, e = i;
            while (e + 1 < n && (missing ? (vals[e + 1] === null || vals[e + 1] === undefined)
              : (r.changes[e] >= 0 && !(r.changes[e] & bit)))) e++;
            var s = el("div", "tl-seg" + (missing ? " none" : "") + (i > 0 && !missing ? " chg" : ""));
            s.style.gridColumn = (i + 2) + " / span " + (e - i + 1);
            if (!missing) {
              var key = Array.isArray(vals[i]) || field === "environment" ? "#seg" + (seg++ % 2) : String(vals[i]).toLowerCase();
              if (!(key in colours)) colours[key] = PALETTE[Object.keys(colours).length % PALETTE.length];
              s.style.background = colours[key];
              s.appendChild(el("div", "tl-val", show(vals[i])));
            }
            for (var k = i; k <= e; k++) {
              (function (k) {
                var h = el("div", "tl-hit");
                h.title = v.frames[k].id + " · " + fmt(v.frames[k].t, 1) + " s: " + (r.present[k] ? show(vals[k]) : "(not in this run)");
                h.addEventListener("click", function () { openFrame(v.frames[k]); });
                s.appendChild(h);
              })(k);
            }
            if (cut[i]) s.style.boxShadow = "inset 2px 0 0 #d62728";
            grid.appendChild(s);
            i = e + 1;
          }
        });
      });
      // the true cuts as lines down the whole grid, over every lane (a lane's block may span a cut)
      v.cuts.forEach(function (j) {
        var line = el("div", "tl-cutline");
        line.style.left = (LAB + (j + 1) * COL - 1) + "px";
        grid.appendChild(line);
      });
      var wrap = el("div", "scroll"); wrap.appendChild(grid); host.appendChild(wrap);
    }

    var sel = document.getElementById("tl-video");
    T.videos.forEach(function (v, i) {
      var o = el("option", null, v.video + " (" + v.frames.length + " frames, " + v.cuts.length + " cuts)"); o.value = String(i); sel.appendChild(o);
    });
    if (T.videos.length < 2) document.getElementById("tl-pick").style.display = "none";
    sel.addEventListener("input", function () { drawVideo(T.videos[Number(sel.value)]); });
    if (T.videos.length) drawVideo(T.videos[0]);
  })();
