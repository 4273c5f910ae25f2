/* The flow dashboard: each chart card fetches its data over its date range and draws it with
   Chart.js; the CSV link follows the range. The Monte Carlo panel asks the metrics API. */
(function () {
  "use strict";

  var root = document.querySelector(".dashboard");
  if (!root || typeof Chart === "undefined") return;
  var base = root.dataset.chartUrl;
  var api = root.dataset.api;
  var charts = {};
  var PALETTE = ["#8a94a6", "#5b8def", "#2f6fd6", "#4aa3df", "#7a5cc2", "#9b8ae0", "#b0640f",
    "#1f9d6b", "#5bc489", "#e0567d", "#d98e04", "#d2393b"];
  var KIND_COLOURS = { Feature: "#2f6fd6", Defect: "#d2393b", Risk: "#d98e04", Debt: "#7a5cc2",
    Escalation: "#e0567d" };
  var PERCENTILE_COLOURS = { "50": "#5bc489", "70": "#f0c232", "85": "#f08a24", "95": "#d2393b" };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 11;
  Chart.defaults.animation = false;

  function day(text) { return Date.parse(text + "T00:00:00Z"); }
  function dateLabel(ms) { return new Date(ms).toISOString().slice(0, 10); }

  function percentileLines(percentiles, xmin, xmax) {
    return Object.keys(percentiles || {}).map(function (p) {
      return {
        type: "line",
        label: p + "% within " + percentiles[p] + " d",
        data: [{ x: xmin, y: percentiles[p] }, { x: xmax, y: percentiles[p] }],
        borderColor: PERCENTILE_COLOURS[p] || "#888",
        borderDash: [6, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        fill: false,
      };
    });
  }

  function timeAxis() {
    return { type: "linear", ticks: { callback: dateLabel, maxTicksLimit: 8 } };
  }

  var DRAW = {
    cfd: function (data) {
      var columns = data.columns.slice(1);
      var labels = data.rows.map(function (r) { return r[0]; });
      var datasets = [];
      for (var i = columns.length - 1; i >= 0; i--) {
        datasets.push({
          label: columns[i],
          data: data.rows.map(function (r) { return r[i + 1]; }),
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length] + "99",
          fill: datasets.length ? "-1" : "origin",
          pointRadius: 0,
          borderWidth: 1,
          tension: 0,
        });
      }
      return { type: "line", data: { labels: labels, datasets: datasets },
        options: { scales: { y: { title: { display: true, text: "items" } },
          x: { ticks: { maxTicksLimit: 10 } } },
          plugins: { tooltip: { mode: "index", intersect: false } } } };
    },
    "cycle-scatter": function (data) {
      var points = data.rows.map(function (r) { return { x: day(r[2]), y: r[3], key: r[0] }; });
      var xs = points.map(function (p) { return p.x; });
      var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
      return { type: "scatter", data: { datasets: [{ label: "Delivered items", data: points,
        backgroundColor: "#2f6fd6aa", pointRadius: 3 }].concat(percentileLines(data.percentiles, xmin, xmax)) },
        options: { scales: { x: timeAxis(), y: { beginAtZero: true, title: { display: true, text: "cycle time (days)" } } },
          plugins: { tooltip: { callbacks: { label: function (c) {
            return c.raw.key ? c.raw.key + ": " + c.raw.y + " d, delivered " + dateLabel(c.raw.x) : c.dataset.label; } } } } } };
    },
    throughput: function (data) {
      var labels = data.rows.map(function (r) { return r[0]; });
      var counts = data.rows.map(function (r) { return r[1]; });
      var datasets = [{ type: "bar", label: "Delivered", data: counts, backgroundColor: "#1f9d6b" }];
      if (data.median !== null && data.median !== undefined) {
        datasets.push({ type: "line", label: "Median " + data.median, data: counts.map(function () { return data.median; }),
          borderColor: "#6b7686", borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5 });
      }
      return { type: "bar", data: { labels: labels, datasets: datasets },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 12 } } } } };
    },
    ageing: function (data) {
      var columns = data.column_order || [];
      var points = data.rows.map(function (r, i) {
        var index = columns.indexOf(r[2]);
        return { x: index + ((i % 7) - 3) * 0.05, y: r[3], key: r[0] };
      });
      return { type: "scatter", data: { datasets: [{ label: "Items in progress", data: points,
        backgroundColor: "#7a5cc2cc", pointRadius: 4 }].concat(percentileLines(data.percentiles, -0.5, columns.length - 0.5)) },
        options: { scales: { x: { type: "linear", min: -0.5, max: columns.length - 0.5,
          afterBuildTicks: function (axis) { axis.ticks = columns.map(function (_, i) { return { value: i }; }); },
          ticks: { autoSkip: false, callback: function (v) { return columns[v] || ""; } } },
          y: { beginAtZero: true, title: { display: true, text: "age (days)" } } },
          plugins: { tooltip: { callbacks: { label: function (c) {
            return c.raw.key ? c.raw.key + ": " + c.raw.y + " d" : c.dataset.label; } } } } } };
    },
    "time-in-column": function (data) {
      var labels = data.rows.map(function (r) { return r[0]; });
      var colour = labels.map(function (l) { return l === data.bottleneck ? "#b0640f" : "#5b8def"; });
      return { type: "bar", data: { labels: labels, datasets: [
        { label: "Median days", data: data.rows.map(function (r) { return r[2]; }), backgroundColor: colour },
        { label: "85th percentile days", data: data.rows.map(function (r) { return r[3]; }),
          backgroundColor: colour.map(function (c) { return c + "66"; }) }] },
        options: { indexAxis: "y", scales: { x: { beginAtZero: true, title: { display: true, text: "days" } } } } };
    },
    "flow-efficiency": function (data) {
      return { type: "line", data: { labels: data.rows.map(function (r) { return r[0]; }), datasets: [{
        label: "Flow efficiency" + (data.overall !== null && data.overall !== undefined ? " (overall " + Math.round(data.overall * 100) + "%)" : ""),
        data: data.rows.map(function (r) { return Math.round(r[4] * 1000) / 10; }),
        borderColor: "#1f9d6b", backgroundColor: "#1f9d6b33", fill: "origin", tension: 0.2 }] },
        options: { scales: { y: { beginAtZero: true, max: 100, ticks: { callback: function (v) { return v + "%"; } } } } } };
    },
    distribution: function (data) {
      var labels = data.rows.map(function (r) { return r[0]; });
      return { type: "doughnut", data: { labels: labels, datasets: [{ data: data.rows.map(function (r) { return r[1]; }),
        backgroundColor: labels.map(function (l) { return KIND_COLOURS[l] || "#8a94a6"; }) }] },
        options: { plugins: { legend: { position: "right" } } } };
    },
    blockers: function (data) {
      return { type: "bar", data: { labels: data.rows.map(function (r) { return (r[0] === "track" ? "Track: " : "") + r[1]; }),
        datasets: [{ label: "Blocked days", data: data.rows.map(function (r) { return r[2]; }),
          backgroundColor: data.rows.map(function (r) { return r[0] === "track" ? "#b0640f" : "#d2393b"; }) }] },
        options: { indexAxis: "y", scales: { x: { beginAtZero: true } } } };
    },
    "readiness-lead": function (data) {
      var points = data.rows.map(function (r) { return { x: day(r[1]), y: r[2], key: r[0] }; });
      var xs = points.map(function (p) { return p.x; });
      return { type: "scatter", data: { datasets: [{ label: "Delivered items", data: points,
        backgroundColor: "#b0640faa", pointRadius: 3 }].concat(percentileLines(data.percentiles, Math.min.apply(null, xs), Math.max.apply(null, xs))) },
        options: { scales: { x: timeAxis(), y: { beginAtZero: true, title: { display: true, text: "readiness lead time (days)" } } } } };
    },
    "criterion-wait": function (data) {
      return { type: "bar", data: { labels: data.rows.map(function (r) { return r[0]; }),
        datasets: [{ label: "Median wait (days)", data: data.rows.map(function (r) { return r[2]; }), backgroundColor: "#b0640f" }] },
        options: { scales: { y: { beginAtZero: true } } } };
    },
    "critical-track": function (data) {
      return { type: "bar", data: { labels: data.rows.map(function (r) { return r[0]; }),
        datasets: [{ label: "Share of deliveries it was critical for", data: data.rows.map(function (r) {
          return r[4] === null ? 0 : Math.round(r[4] * 1000) / 10; }), backgroundColor: "#7a5cc2" }] },
        options: { scales: { y: { beginAtZero: true, max: 100, ticks: { callback: function (v) { return v + "%"; } } } } } };
    },
  };

  function load(card) {
    var name = card.dataset.chart;
    var form = card.querySelector(".chart-range");
    var params = new URLSearchParams(new FormData(form));
    card.querySelector(".chart-csv").setAttribute("href", base + name + ".csv?" + params.toString());
    fetch(base + name + ".json?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        var data = result.data;
        var empty = card.querySelector(".chart-empty");
        if (!result.ok) {
          empty.textContent = data.detail || "This range can't be read.";
          empty.hidden = false;
          return;
        }
        card.querySelector(".chart-title").textContent = data.title;
        card.querySelector(".chart-how").textContent = data.how;
        var evidence = card.querySelector(".chart-evidence");
        evidence.hidden = !data.evidence;
        evidence.textContent = data.evidence ? "Bottleneck: " + data.evidence : "";
        if (charts[name]) charts[name].destroy();
        empty.textContent = "No data in this range yet.";
        empty.hidden = data.rows.length > 0;
        card.dataset.rows = String(data.rows.length);
        if (!data.rows.length) return;
        var config = DRAW[name](data);
        config.options = config.options || {};
        config.options.maintainAspectRatio = false;
        config.options.responsive = true;
        charts[name] = new Chart(card.querySelector("canvas"), config);
        card.dataset.drawn = "1";
      });
  }

  root.querySelectorAll(".chart-card[data-chart]").forEach(function (card) {
    card.querySelector(".chart-range").addEventListener("change", function () { load(card); });
    card.querySelector(".chart-range").addEventListener("submit", function (e) { e.preventDefault(); load(card); });
    load(card);
  });

  /* --- Monte Carlo ------------------------------------------------------------------------- */

  var panel = document.getElementById("forecast");
  panel.querySelectorAll(".forecast-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var params = new URLSearchParams(new FormData(form));
      fetch(api + "forecast/?" + params.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var table = panel.querySelector(".forecast-readings");
          var body = table.querySelector("tbody");
          var detail = panel.querySelector(".forecast-detail");
          body.innerHTML = "";
          if (!data.readings) {
            detail.textContent = data.detail || "No forecast: the board has no delivery to learn from.";
            table.hidden = true;
            return;
          }
          var howMany = form.dataset.question === "how_many";
          panel.querySelector(".forecast-label").textContent = howMany ? "Items or more" : "On or before";
          detail.textContent = howMany
            ? "Items delivered from tomorrow to " + data.date + " (" + data.days + " days)."
            : data.items + " more items, from " + data.as_of + ".";
          var rows = [["confidence", howMany ? "items_or_more" : "on_or_before"]];
          Object.keys(data.readings).forEach(function (confidence) {
            var value = data.readings[confidence];
            var tr = document.createElement("tr");
            var th = document.createElement("td");
            th.textContent = confidence + "%";
            var td = document.createElement("td");
            td.textContent = value === null ? "beyond 10 years" : value;
            tr.appendChild(th);
            tr.appendChild(td);
            body.appendChild(tr);
            rows.push([confidence, value === null ? "" : value]);
          });
          table.hidden = false;
          var link = panel.querySelector(".forecast-csv");
          var csv = rows.map(function (r) { return r.join(","); }).join("\n") + "\n";
          link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
          link.setAttribute("download", "forecast-" + form.dataset.question + ".csv");
          link.hidden = false;
        });
    });
  });
  var dateInput = panel.querySelector("input[name=date]");
  var inFourWeeks = new Date(Date.now() + 28 * 86400000);
  dateInput.value = inFourWeeks.toISOString().slice(0, 10);
})();
