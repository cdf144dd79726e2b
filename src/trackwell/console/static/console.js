/* trackwell console: charts (uPlot, vendored) and live regions (polling the page's fragments). */
(function () {
  "use strict";

  function readData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function stacked(data) {
    // Stack bar series so each bar shows its parts; the legend still shows each part's own value.
    var sums = data.x.map(function () { return 0; });
    return data.series.map(function (s) {
      return s.values.map(function (v, i) { sums[i] += v || 0; return sums[i]; });
    });
  }

  function drawChart(holder) {
    var data = readData(holder.getAttribute("data-chart"));
    if (!data || !window.uPlot) { return; }
    var bars = data.kind === "bars";
    var values = bars ? stacked(data) : data.series.map(function (s) { return s.values; });
    var series = [{}];
    var order = data.series.map(function (_, i) { return i; });
    if (bars) { order.reverse(); }  // the tallest stack first, so shorter parts paint over it
    var columns = [data.x];
    order.forEach(function (i) {
      var s = data.series[i];
      var own = s.values;
      var spec = {
        label: s.label,
        stroke: s.color,
        width: bars ? 0 : 2,
        value: function (u, v, si, idx) { return idx == null || own[idx] == null ? "-" : own[idx]; }
      };
      if (bars) {
        spec.points = { show: false };
        spec.fill = s.color;
        spec.paths = uPlot.paths.bars({ size: [0.7, 40] });
      }
      series.push(spec);
      columns.push(values[i]);
    });
    var bands = [];
    if (data.band) {
      var lower = order.indexOf(data.band[0]) + 1;
      var upper = order.indexOf(data.band[1]) + 1;
      bands.push({ series: [upper, lower], fill: "rgba(134, 142, 150, 0.18)" });
      series[lower].width = 1;
      series[upper].width = 1;
    }
    var width = Math.max(holder.clientWidth, 320);
    var options = {
      width: width,
      height: 220,
      series: series,
      bands: bands,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      axes: [{}, { label: data.unit || "", size: 60 }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(max, 1) * 1.1]; } } },
      cursor: { drag: { x: false, y: false } }
    };
    holder.textContent = "";
    return new uPlot(options, columns, holder);
  }

  function drawCharts(root) {
    var holders = (root || document).querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(holders, function (holder) {
      var plot = drawChart(holder);
      if (plot) { holder.setAttribute("data-drawn", "true"); }
    });
  }

  function fragmentUrl(part) {
    var url = new URL(window.location.href);
    url.searchParams.set("part", part);
    url.hash = "";
    return url.toString();
  }

  function startLive(region) {
    var part = region.getAttribute("data-live");
    var every = parseInt(region.getAttribute("data-live-every"), 10) || 3000;
    var etag = null;
    var busy = false;
    var timer = null;
    function poll() {
      if (busy || document.hidden) { return; }
      busy = true;
      var headers = { "Accept": "text/html" };
      if (etag) { headers["If-None-Match"] = etag; }
      fetch(fragmentUrl(part), { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 401) {
            window.clearInterval(timer);
            region.setAttribute("data-live-state", "logged-out");
            return null;
          }
          if (response.status !== 200) { return null; }
          etag = response.headers.get("ETag");
          return response.text();
        })
        .then(function (html) {
          if (html !== null && html !== undefined) {
            region.innerHTML = html;  // server-rendered and escaped; no scripts in fragments
            region.setAttribute("data-live-updated", String(Date.now()));
          }
        })
        .catch(function () { /* offline for a moment: try again on the next tick */ })
        .then(function () { busy = false; });
    }
    timer = window.setInterval(poll, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), startLive);
  });
})();
