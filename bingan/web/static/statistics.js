// Statistics reports: draws the JSON of the page's #statistics-chart-data with ECharts (bar, line or
// pie). Rates (units "percent") go on a second axis. Data only: labels reach the chart as text.
(function () {
  "use strict";

  function draw() {
    const holder = document.getElementById("statistics-chart");
    const source = document.getElementById("statistics-chart-data");
    if (!holder || !source || typeof echarts === "undefined") return;
    const data = JSON.parse(source.textContent);
    if (!data.categories.length) {
      holder.textContent = "所选期间没有数据";
      return;
    }
    const chart = echarts.init(holder, null, { renderer: "canvas" });
    let option;
    if (data.type === "pie") {
      const first = data.series.find(function (s) { return s.unit !== "percent"; }) || data.series[0];
      option = {
        tooltip: { trigger: "item", renderMode: "richText" },
        legend: { type: "scroll", bottom: 0 },
        series: [{ name: first.name, type: "pie", radius: ["30%", "65%"],
          data: data.categories.map(function (label, i) { return { name: label, value: first.data[i] || 0 }; }) }],
      };
    } else {
      const rates = data.series.some(function (s) { return s.unit === "percent"; });
      option = {
        tooltip: { trigger: "axis", renderMode: "richText" },
        legend: { type: "scroll", top: 0 },
        grid: { left: 60, right: rates ? 60 : 20, top: 40, bottom: 60 },
        xAxis: { type: "category", data: data.categories, axisLabel: { interval: 0, rotate: data.categories.length > 8 ? 30 : 0 } },
        yAxis: [{ type: "value", name: "数量" }].concat(rates ? [{ type: "value", name: "%", max: 100 }] : []),
        series: data.series.map(function (s) {
          return { name: s.name, type: data.type === "line" || s.unit === "percent" ? "line" : "bar",
            yAxisIndex: s.unit === "percent" ? 1 : 0, data: s.data };
        }),
      };
    }
    chart.setOption(option);
    holder.dataset.drawn = "true";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
