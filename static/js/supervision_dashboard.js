// Supervisor dashboard: draws the charts from the JSON the page embeds (json_script).
// Chart.js is served from the project's static files; nothing is fetched from outside.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  const colors = { due: "#4e79a7", done: "#59a14f", overdue: "#e15759", reach: "#f28e2b", on_time: "#76b7b2", satisfaction: "#af7aa1" };
  window.dashboardCharts = [];

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    config.options = Object.assign({ responsive: true, animation: false }, config.options || {});
    const chart = new Chart(canvas, config);
    canvas.dataset.points = String(config.data.datasets.reduce((n, d) => n + d.data.length, 0));
    window.dashboardCharts.push(chart);
  }

  function countsChart(id, rows, labelOf, stacked) {
    draw(id, {
      type: "bar",
      data: {
        labels: rows.map(labelOf),
        datasets: ["due", "done", "overdue"].map((key) => ({
          label: labels[key], data: rows.map((row) => row[key]), backgroundColor: colors[key],
        })),
      },
      options: stacked ? { indexAxis: "y" } : {},
    });
  }

  draw("chart-over-time", {
    type: "line",
    data: {
      labels: data.over_time.labels,
      datasets: ["due", "done", "overdue"].map((key) => ({
        label: labels[key], data: data.over_time[key], borderColor: colors[key], backgroundColor: colors[key],
      })),
    },
  });
  countsChart("chart-kind", data.by_kind, (row) => labels.kinds[row.kind] || row.kind);
  countsChart("chart-branch", data.by_branch, (row) => row.branch__name || row.branch__code);
  countsChart("chart-agent", data.by_agent, (row) => row.assigned_to__first_name || row.assigned_to__username, true);
  draw("chart-rates", {
    type: "line",
    data: {
      labels: data.rates.labels,
      datasets: [
        { label: labels.reach, data: data.rates.reach, borderColor: colors.reach, spanGaps: true },
        { label: labels.on_time, data: data.rates.on_time, borderColor: colors.on_time, spanGaps: true },
      ],
    },
    options: { scales: { y: { min: 0, max: 1 } } },
  });
  draw("chart-escalations", {
    type: "bar",
    data: {
      labels: data.escalations.map((row) => row.department),
      datasets: [
        { label: labels.opened, data: data.escalations.map((row) => row.opened), backgroundColor: colors.due },
        { label: labels.kept, data: data.escalations.map((row) => row.resolved_in_time), backgroundColor: colors.done },
        { label: labels.overdue, data: data.escalations.map((row) => row.overdue), backgroundColor: colors.overdue },
      ],
    },
  });
  draw("chart-satisfaction", {
    type: "line",
    data: {
      labels: data.satisfaction.labels,
      datasets: [{ label: labels.satisfaction, data: data.satisfaction.average, borderColor: colors.satisfaction }],
    },
    options: { scales: { y: { min: 1, max: 5 } } },
  });
  draw("chart-ranking", {
    type: "bar",
    data: {
      labels: data.ranking.map((row) => row.rank + ". " + (row.agent__first_name || row.agent__username)),
      datasets: [{
        label: labels.composite, data: data.ranking.map((row) => row.composite),
        backgroundColor: data.ranking.map((row) => (row.rewarded ? colors.done : colors.due)),
      }],
    },
    options: { indexAxis: "y", scales: { x: { min: 0, max: 100 } } },
  });
  document.body.dataset.chartsReady = String(window.dashboardCharts.length);
})();
