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

  function relative(ms) {
    // "3 h ago", "in 2 min": the largest unit that fits, in the reader's language.
    var seconds = (ms - Date.now()) / 1000;
    var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
    var format = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" }) : null;
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1]) {
        var n = Math.round(seconds / units[i][1]);
        return format ? format.format(n, units[i][0]) : n + " " + units[i][0] + "s";
      }
    }
    return format ? format.format(Math.round(seconds), "second") : "just now";
  }

  function decorateTimes(root) {
    // The server writes UTC; the reader's local time and "how long ago" are added here.
    Array.prototype.forEach.call((root || document).querySelectorAll("time.at[data-ms]"), function (node) {
      var ms = parseInt(node.getAttribute("data-ms"), 10);
      var next = node.nextSibling;
      if (next && next.nodeType === 1 && next.classList.contains("rel")) { next.remove(); }
      var extra = document.createElement("span");
      extra.className = "rel";
      extra.textContent = " · " + new Date(ms).toLocaleString() + " local · " + relative(ms);
      node.setAttribute("title", new Date(ms).toString());
      node.after(extra);
    });
  }

  function keyOf(node) {
    // Where a node sits in a live region, in words that survive a re-render: the message it
    // belongs to (or its own key), its tag and its position among such tags there.
    var holder = node.closest("[data-key], [data-message-id]");
    var scope = holder || node.ownerDocument;
    var same = scope.querySelectorAll(node.tagName);
    var index = Array.prototype.indexOf.call(same, node);
    return {
      holder: holder ? (holder.getAttribute("data-key") !== null ? "[data-key=\"" + CSS.escape(holder.getAttribute("data-key")) + "\"]" : "[data-message-id=\"" + CSS.escape(holder.getAttribute("data-message-id")) + "\"]") : null,
      tag: node.tagName,
      index: index
    };
  }

  function find(region, key) {
    var scope = key.holder ? region.querySelector(key.holder) : region;
    if (!scope) { return null; }
    var same = scope.querySelectorAll(key.tag);
    return key.index >= 0 && key.index < same.length ? same[key.index] : null;
  }

  function replaceKeepingState(region, html) {
    // Open payloads stay open and the focused control keeps the focus across a refresh.
    var open = Array.prototype.map.call(region.querySelectorAll("details[open][data-key]"), function (d) {
      return d.getAttribute("data-key");
    });
    var active = document.activeElement;
    var focus = active && active !== document.body && region.contains(active) ? keyOf(active) : null;
    region.innerHTML = html;  // server-rendered and escaped; no scripts in fragments
    open.forEach(function (key) {
      var again = region.querySelector("details[data-key=\"" + CSS.escape(key) + "\"]");
      if (again) { again.open = true; }
    });
    if (focus) {
      var target = find(region, focus);
      if (target) { target.focus({ preventScroll: true }); }
    }
    decorateTimes(region);
  }

  var timers = [];

  function sessionEnded() {
    // Stop every live region and say so, instead of painting the login page into the timeline.
    timers.forEach(function (t) { window.clearInterval(t); });
    timers = [];
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), function (region) {
      region.setAttribute("data-live-state", "logged-out");
    });
    if (document.querySelector(".live-ended")) { return; }
    var note = document.createElement("p");
    note.className = "live-ended";
    note.setAttribute("role", "alert");
    note.appendChild(document.createTextNode("Your session has ended, so this page stopped updating. "));
    var link = document.createElement("a");
    var base = document.body.getAttribute("data-base") || "";
    link.href = base + "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
    link.textContent = "Log in again";
    note.appendChild(link);
    var main = document.querySelector("main");
    main.insertBefore(note, main.firstChild);
  }

  function startLive(region) {
    var part = region.getAttribute("data-live");
    var every = parseInt(region.getAttribute("data-live-every"), 10) || 3000;
    var etag = null;
    var busy = false;
    function poll() {
      if (busy || document.hidden || region.getAttribute("data-live-state") === "logged-out") { return; }
      busy = true;
      var headers = { "Accept": "text/html" };
      if (etag) { headers["If-None-Match"] = etag; }
      fetch(fragmentUrl(part), { headers: headers, credentials: "same-origin", cache: "no-store", redirect: "manual" })
        .then(function (response) {
          // A session that ended answers 401 (or, from an older gate, a redirect to the login).
          if (response.status === 401 || response.type === "opaqueredirect") {
            sessionEnded();
            return null;
          }
          if (response.status !== 200) { return null; }
          etag = response.headers.get("ETag");
          return response.text();
        })
        .then(function (html) {
          if (html !== null && html !== undefined) {
            replaceKeepingState(region, html);
            region.setAttribute("data-live-updated", String(Date.now()));
          }
        })
        .catch(function () { /* offline for a moment: try again on the next tick */ })
        .then(function () { busy = false; });
    }
    timers.push(window.setInterval(poll, every));
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    decorateTimes(document);
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), startLive);
  });
})();
