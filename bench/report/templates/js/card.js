  // ---- the model card's charts (bench/report/card.py): measured beside published
  if (D.card && D.card.figures && window.Plotly) {
    document.querySelectorAll("[data-card-fig]").forEach(function (div) {
      var f = D.card.figures[div.getAttribute("data-card-fig")];
      if (!f) { div.textContent = "(no data)"; return; }
      // Plotly.react draws into an empty div exactly as newPlot does (plots.js keeps the page's one newPlot loop)
      Plotly.react(div, f.data, f.layout, {responsive: true, displaylogo: false, displayModeBar: false});
    });
  }
