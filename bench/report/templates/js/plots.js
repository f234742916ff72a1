  // ---- plots
  if (window.Plotly) {
    document.querySelectorAll("[data-fig]").forEach(function (div) {
      var f = D.figures[div.getAttribute("data-fig")];
      if (!f) { div.textContent = "(no data)"; return; }
      Plotly.newPlot(div, f.data, f.layout, {responsive: true, displaylogo: false});
    });
  }

