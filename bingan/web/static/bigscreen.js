// The record room's big screen (大屏): draws the JSON of /api/v1/monitoring/bigscreen with ECharts
// and redraws it every data-refresh-seconds. Text goes in through textContent only.
(function () {
  "use strict";
  const body = document.body;
  const source = body.dataset.source;
  const refresh = Math.max(15, Number(body.dataset.refreshSeconds || 30)) * 1000;
  const axis = { axisLine: { lineStyle: { color: "#4a6f96" } }, axisLabel: { color: "#b8cce4", fontSize: 14 },
    splitLine: { lineStyle: { color: "#1a3656" } } };
  const charts = {};

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
    return charts[id];
  }

  function text(id, value) { document.getElementById(id).textContent = value; }

  function element(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function hhmm(iso) {
    if (!iso) return "";
    const when = new Date(iso);
    return (when.getMonth() + 1) + "-" + when.getDate() + " " + String(when.getHours()).padStart(2, "0") + ":" +
      String(when.getMinutes()).padStart(2, "0");
  }

  function drawTotals(totals) {
    text("t-sources", totals.sources_up + " / " + totals.sources);
    text("t-today", totals.collected_today);
    text("t-pipeline", totals.in_pipeline);
    text("t-failed", totals.failed_waiting);
    document.getElementById("t-failed").classList.toggle("alarm", totals.failed_waiting > 0);
  }

  function drawServices(services) {
    const box = document.getElementById("services");
    box.replaceChildren(...services.map(function (service) {
      const row = element("div", "service" + (service.up ? "" : " down"));
      row.append(element("span", "name", service.name), element("span", "state", service.status));
      return row;
    }));
    if (!services.length) box.append(element("div", "service down", "尚未配置采集来源"));
  }

  function drawDaily(days) {
    chart("chart-daily").setOption({
      grid: { left: 60, right: 20, top: 20, bottom: 40 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: Object.assign({ type: "category", data: days.map(function (d) { return d.day.slice(5); }) }, axis),
      yAxis: Object.assign({ type: "value", minInterval: 1 }, axis),
      series: [{ name: "采集文书", type: "bar", data: days.map(function (d) { return d.count; }),
        itemStyle: { color: "#3aa0ff", borderRadius: [4, 4, 0, 0] } }],
    });
  }

  function drawMonths(months) {
    chart("chart-months").setOption({
      grid: { left: 60, right: 20, top: 40, bottom: 40 },
      legend: { data: ["出院", "已归档"], textStyle: { color: "#d6e4f5", fontSize: 16 } },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: Object.assign({ type: "category", data: months.map(function (m) { return m.month; }) }, axis),
      yAxis: Object.assign({ type: "value", minInterval: 1 }, axis),
      series: [
        { name: "出院", type: "bar", data: months.map(function (m) { return m.discharged; }), itemStyle: { color: "#5b8ff9" } },
        { name: "已归档", type: "bar", data: months.map(function (m) { return m.archived; }), itemStyle: { color: "#2ecc71" } },
      ],
    });
  }

  function drawAnomalies(anomalies) {
    chart("chart-failed").setOption({
      grid: { left: 50, right: 10, top: 10, bottom: 30 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: Object.assign({ type: "category", data: anomalies.failed_per_day.map(function (d) { return d.day.slice(5); }) }, axis),
      yAxis: Object.assign({ type: "value", minInterval: 1, name: "失败" }, axis),
      series: [{ name: "采集失败", type: "line", smooth: true, areaStyle: { opacity: 0.25 },
        data: anomalies.failed_per_day.map(function (d) { return d.count; }), itemStyle: { color: "#ff6b6b" } }],
    });
    const list = document.getElementById("alerts");
    list.replaceChildren(...anomalies.alerts.slice(0, 8).map(function (alert) {
      const item = element("li", alert.closed_at ? "" : "open");
      item.append(element("span", "when", hhmm(alert.opened_at)),
        document.createTextNode(alert.source + " " + alert.kind + (alert.closed_at ? "（已恢复）" : "（持续中）")));
      return item;
    }));
    if (!anomalies.alerts.length) list.append(element("li", "none", "近七天没有告警"));
  }

  function draw(data) {
    drawTotals(data.totals);
    drawServices(data.services);
    drawDaily(data.collected_per_day);
    drawMonths(data.months);
    drawAnomalies(data.anomalies);
    text("updated", "更新于 " + hhmm(data.generated_at));
    body.dataset.loaded = "true";
  }

  function load() {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.href = "/login?next=/bigscreen"; return null; }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { if (data) draw(data); })
      .catch(function () { text("updated", "数据更新失败，稍后自动重试"); });
  }

  function tick() {
    const now = new Date();
    text("clock", now.toLocaleString("zh-CN", { hour12: false }));
  }

  window.addEventListener("resize", function () { Object.values(charts).forEach(function (c) { c.resize(); }); });
  tick();
  setInterval(tick, 1000);
  load();
  setInterval(load, refresh);
})();
