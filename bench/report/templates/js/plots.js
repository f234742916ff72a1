  // ---- plots
  if (window.Plotly) {
    document.querySelectorAll("[data-fig]").forEach(function (div) {
      var f = D.figures[div.getAttribute("data-fig")];
      if (!f) { div.textContent = "(no data)"; return; }
      // no "Share chart..." (uploads to Plotly Cloud): a report never sends its data anywhere
      Plotly.newPlot(div, f.data, f.layout, {responsive: true, displaylogo: false,
                                            modeBarButtonsToRemove: ["sendChartToCloud"]});
    });
  }

