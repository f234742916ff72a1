  "use strict";
  var D = JSON.parse(document.getElementById("page-data").textContent);
  var PAGE = 20;
  var EX = D.explorer || {};
  var WHY = {failed: "embedded: failed for some run", disputed: "embedded: runs disagree", sample: "embedded: sample"};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(x, d) { return (x === null || x === undefined) ? "–" : Number(x).toFixed(d); }
  // words wrap at spaces; only a token too long for a column (a URL, a run of characters) may break anywhere
  var LONG_TOKEN = /\S{24,}/;
  function txt(tag, cls, text) {
    var e = el(tag, cls, text);
    if (text !== undefined && text !== null && LONG_TOKEN.test(String(text))) e.classList.add("longtok");
    return e;
  }
  // the judge's per-field items ({"objects": ["a", "b"]}) as "objects: a, b" lines
  function fieldItems(name, items) {
    var box = el("div", "muted");
    box.appendChild(el("i", null, name + ":"));
    var ul = el("ul", "items");
    Object.keys(items).forEach(function (field) {
      var list = Array.isArray(items[field]) ? items[field] : [items[field]];
      ul.appendChild(txt("li", null, field + ": " + list.map(String).join(", ")));
    });
    box.appendChild(ul);
    return box;
  }
  function safeCls(s) { return String(s || "").replace(/[^a-z_]/g, ""); }

