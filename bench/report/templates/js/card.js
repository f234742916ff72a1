  // ---- the model card's charts (bench/report/card.py): measured beside published
  if (D.card && D.card.figures && window.Plotly) {
    document.querySelectorAll("[data-card-fig]").forEach(function (div) {
      var f = D.card.figures[div.getAttribute("data-card-fig")];
      if (!f) { div.textContent = "(no data)"; return; }
      Plotly.newPlot(div, f.data, f.layout, {responsive: true, displaylogo: false, displayModeBar: false});
    });
  }
