/* newsetl dashboard page: fetches /api/*, draws ECharts charts, the metrics table and the document
 * view. Text from the data is always inserted with textContent or text nodes, never parsed as HTML.
 *
 * window.newsetlDashboard exposes the page state for automated checks:
 *   ready (initial load finished), errors (failed requests / script errors), charts (id -> ECharts),
 *   counts() -> {charts: {id: data points}, rows, marks}.
 */
"use strict";

(function () {
  const CJK_FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", ' +
    '"Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif';
  const TOPIC_COLORS = { "产业": "#2f6fde", "健康": "#1aa179", "教育": "#e8a33d", "就业": "#c2459b", "other": "#9aa5b1" };
  const PAGE = 25;

  const state = {
    ready: false,
    errors: [],
    charts: {},
    sort: "value",
    order: "desc",
    offset: 0,
    total: 0,
    metricChoices: [],
  };
  window.newsetlDashboard = state;
  state.counts = function () {
    const charts = {};
    for (const [id, chart] of Object.entries(state.charts)) {
      const series = chart.getOption().series || [];
      charts[id] = series.reduce((n, s) => n + (s.data || []).filter((v) => v !== 0 && v !== null).length, 0);
    }
    return {
      charts: charts,
      rows: document.querySelectorAll("#metrics-table tbody tr.metric-row").length,
      marks: document.querySelectorAll("#doc-text mark").length,
    };
  };

  window.addEventListener("error", (ev) => state.errors.push("script: " + ev.message));
  window.addEventListener("unhandledrejection", (ev) => state.errors.push("promise: " + String(ev.reason)));

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  };

  function showError(message) {
    state.errors.push(message);
    const box = $("#error");
    box.hidden = false;
    box.textContent = message;
  }

  async function api(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, value);
    }
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({ error: "invalid JSON from " + path }));
    if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
    return body;
  }

  const fmt = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 2 });
  const formatNumber = (v) => (v === null || v === undefined ? "–" : fmt.format(v));

  function chart(id) {
    if (!state.charts[id]) {
      state.charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
      window.addEventListener("resize", () => state.charts[id].resize());
    }
    return state.charts[id];
  }

  function baseOption(extra) {
    return Object.assign({
      textStyle: { fontFamily: CJK_FONT },
      animation: false,
      grid: { left: 60, right: 20, top: 40, bottom: 60, containLabel: true },
      tooltip: { trigger: "axis" },
    }, extra);
  }

  function emptyGraphic(isEmpty) {
    return isEmpty ? [{ type: "text", left: "center", top: "middle", style: { text: "暂无数据", fill: "#9aa5b1", fontSize: 16 } }] : [];
  }

  // --- filters ---------------------------------------------------------------------------------
  function filters() {
    const form = $("#filters");
    const choice = form.metric.value === "" ? null : state.metricChoices[Number(form.metric.value)] || null;
    return {
      topic: form.topic.value,
      metric: choice ? choice.metric : "",
      unit: choice ? choice.unit : "",
      region: form.region.value,
      year: form.year.value,
    };
  }

  function fillSelect(select, values, label) {
    const keep = select.value;
    select.replaceChildren(el("option", { value: "", textContent: "全部" }));
    values.forEach((value, i) => select.append(el("option", { value: label ? String(i) : String(value), textContent: label ? label(value) : String(value) })));
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }

  async function loadFacets() {
    const form = $("#filters");
    const facets = await api("/api/facets", { topic: form.topic.value });
    if (!form.topic.options.length || form.topic.options.length === 1) fillSelect(form.topic, facets.topics);
    state.metricChoices = facets.metrics;
    fillSelect(form.metric, facets.metrics, (m) => m.metric + "（" + m.unit + "）");
    fillSelect(form.region, facets.regions);
    fillSelect(form.year, facets.years);
  }

  // --- charts ----------------------------------------------------------------------------------
  async function loadSummary() {
    const s = await api("/api/summary");
    const items = [["文档", s.documents], ["指标", s.metrics], ["死信", s.dlq], ["时间", (s.first_day || "–") + " ~ " + (s.last_day || "–")]];
    $("#summary").replaceChildren(...items.map(([k, v]) => el("div", {}, el("dt", { textContent: k }), el("dd", { textContent: typeof v === "number" ? formatNumber(v) : String(v ?? "–") }))));
  }

  async function loadTopics() {
    const data = await api("/api/topics", { granularity: $("#granularity").value });
    chart("chart-topics").setOption(baseOption({
      legend: { top: 0 },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v * 100).toFixed(1) + "%" },
      xAxis: { type: "category", data: data.periods, boundaryGap: false },
      yAxis: { type: "value", max: 1, axisLabel: { formatter: (v) => Math.round(v * 100) + "%" } },
      graphic: emptyGraphic(!data.periods.length),
      series: data.series.map((s) => ({
        name: s.topic, type: "line", stack: "share", areaStyle: {}, symbol: data.periods.length > 1 ? "none" : "circle",
        color: TOPIC_COLORS[s.topic], data: s.share,
      })),
    }), true);
  }

  function barOption(data, horizontal) {
    const labels = data.labels.map(String);
    const categoryAxis = { type: "category", data: labels, axisLabel: { interval: 0, rotate: horizontal ? 0 : 30 } };
    const valueAxis = { type: "value", name: data.unit || "", axisLabel: { formatter: (v) => formatNumber(v) } };
    return baseOption({
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const i = items[0].dataIndex;
          // ECharts renders tooltips as HTML: escape everything that comes from the data.
          return [labels[i], "合计：" + formatNumber(data.total[i]) + " " + (data.unit || ""),
            "提及：" + data.mentions[i], "最新值：" + formatNumber(data.latest[i])].map(echarts.format.encodeHTML).join("<br>");
        },
      },
      xAxis: horizontal ? valueAxis : categoryAxis,
      yAxis: horizontal ? Object.assign({}, categoryAxis, { inverse: true, axisLabel: { interval: 0 } }) : valueAxis,
      graphic: emptyGraphic(!labels.length),
      series: [{ name: data.metric || "", type: "bar", data: data.total, color: "#2f6fde" }],
    });
  }

  async function loadMetricCharts() {
    const f = filters();
    const [byRegion, byYear] = await Promise.all([
      api("/api/metrics/by_region", Object.assign({}, f, { region: "" })),
      api("/api/metrics/by_year", Object.assign({}, f, { year: "" })),
    ]);
    const label = byRegion.metric ? byRegion.metric + "（" + byRegion.unit + "）" : "";
    document.querySelectorAll("[data-metric-label]").forEach((n) => { n.textContent = label; });
    chart("chart-region").setOption(barOption(byRegion, true), true);
    chart("chart-year").setOption(barOption(byYear, false), true);
  }

  async function loadDlq() {
    const data = await api("/api/dlq");
    chart("chart-dlq").setOption(baseOption({
      legend: { top: 0 },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      graphic: emptyGraphic(!data.days.length),
      series: data.series.map((s) => ({ name: s.kind, type: "bar", stack: "dlq", data: s.messages })),
    }), true);
  }

  async function loadSubjects() {
    const data = await api("/api/subjects", { limit: 12 });
    $("#subjects tbody").replaceChildren(...data.subjects.map((s) => el("tr", {},
      el("td", { textContent: s.subject }),
      el("td", { className: "num", textContent: formatNumber(s.mentions) }),
      el("td", { className: "num", textContent: formatNumber(s.documents) }),
      el("td", { textContent: s.topics.join(" ") }),
      el("td", { textContent: s.metrics.join("、") }))));
  }

  // --- metrics table ---------------------------------------------------------------------------
  function sentenceCell(row) {
    // The span inside its sentence, highlighted; the link opens the document at the span.
    const link = el("a", { href: "#doc=" + encodeURIComponent(row.doc_id) + "&span=" + row.char_start + "-" + row.char_end, title: row.title || row.doc_id });
    const at = row.sentence.indexOf(row.span);
    if (at >= 0 && row.span) {
      link.append(row.sentence.slice(0, at), el("mark", { textContent: row.span }), row.sentence.slice(at + row.span.length));
    } else {
      link.append(row.sentence);
    }
    return el("td", { className: "sentence" }, link);
  }

  async function loadRows() {
    const data = await api("/api/metrics/rows", Object.assign(filters(), { sort: state.sort, order: state.order, limit: PAGE, offset: state.offset }));
    state.total = data.total;
    const body = $("#metrics-table tbody");
    if (!data.rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 9, textContent: "没有符合条件的指标" })));
    } else {
      body.replaceChildren(...data.rows.map((row) => {
        const tr = el("tr", { className: "metric-row" },
          el("td", {}, el("span", { className: "tag", textContent: row.topic })),
          el("td", { textContent: row.metric }),
          el("td", { className: "num", textContent: formatNumber(row.value) }),
          el("td", { textContent: row.unit + (row.qualifier !== "exact" ? "（" + row.qualifier + "）" : "") }),
          el("td", { textContent: row.subject }),
          el("td", { textContent: row.region || "–" }),
          el("td", { textContent: row.year ?? "–" }),
          sentenceCell(row),
          el("td", { textContent: row.published_at ? row.published_at.slice(0, 10) : "–" }));
        tr.dataset.docId = row.doc_id;
        return tr;
      }));
    }
    const last = Math.min(state.offset + PAGE, state.total);
    $("#page-info").textContent = state.total ? (state.offset + 1) + "–" + last + " / " + formatNumber(state.total) : "0";
    $("#prev").disabled = state.offset === 0;
    $("#next").disabled = last >= state.total;
    document.querySelectorAll("#metrics-table th[data-sort]").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.sort === state.sort);
      th.classList.toggle("asc", th.dataset.sort === state.sort && state.order === "asc");
    });
  }

  // --- document view ---------------------------------------------------------------------------
  async function loadDocumentList() {
    const data = await api("/api/documents", { limit: 500 });
    $("#doc-select").replaceChildren(...data.documents.map((d) => el("option", {
      value: d.doc_id, textContent: (d.date || "").slice(0, 10) + " " + (d.title || d.doc_id) + "（" + d.metric_count + "）",
    })));
    return data.documents;
  }

  async function showDocument(docId, focus) {
    const data = await api("/api/document", { doc_id: docId });
    const doc = data.doc;
    if ([...$("#doc-select").options].some((o) => o.value === doc.doc_id)) $("#doc-select").value = doc.doc_id;
    $("#doc-meta").replaceChildren(
      el("h3", { textContent: doc.title || doc.doc_id }),
      el("div", {}, (doc.published_at || doc.ingested_at || "").slice(0, 10) + " · " + doc.source + " · " +
        (doc.regions || []).join("、") + " · " + data.spans.length + " 个指标 · ", ...(doc.topics || []).map((t) => el("span", { className: "tag", textContent: t }))));
    let focused = null;
    const nodes = data.segments.map((seg) => {
      if (seg.mark === null) return document.createTextNode(seg.text);
      const span = data.spans[seg.mark];
      const mark = el("mark", { textContent: seg.text, title: span.metric + "：" + formatNumber(span.value) + " " + span.unit + (span.subject ? "（" + span.subject + "）" : "") });
      mark.dataset.start = span.char_start;
      mark.dataset.end = span.char_end;
      if (focus && span.char_start === focus[0] && span.char_end === focus[1]) focused = mark;
      return mark;
    });
    $("#doc-text").replaceChildren(...nodes);
    if (focused) {
      focused.classList.add("focus");
      focused.scrollIntoView({ block: "center" });
      $("#document").scrollIntoView({ block: "start" });
    }
  }

  function route() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const docId = params.get("doc");
    if (!docId) return null;
    const span = (params.get("span") || "").split("-").map(Number);
    return showDocument(docId, span.length === 2 && span.every(Number.isFinite) ? span : null);
  }

  // --- wiring ----------------------------------------------------------------------------------
  function guard(promise) {
    return Promise.resolve(promise).catch((err) => showError(String(err.message || err)));
  }

  async function refreshMetrics() {
    state.offset = 0;
    await Promise.all([loadMetricCharts(), loadRows()]);
  }

  async function init() {
    if (typeof echarts === "undefined") throw new Error("ECharts did not load");
    $("#granularity").addEventListener("change", () => guard(loadTopics()));
    const form = $("#filters");
    form.topic.addEventListener("change", () => guard(loadFacets().then(refreshMetrics)));
    for (const name of ["metric", "region", "year"]) form[name].addEventListener("change", () => guard(refreshMetrics()));
    form.addEventListener("reset", () => setTimeout(() => guard(loadFacets().then(refreshMetrics)), 0));
    document.querySelectorAll("#metrics-table th[data-sort]").forEach((th) => th.addEventListener("click", () => {
      state.order = state.sort === th.dataset.sort && state.order === "desc" ? "asc" : "desc";
      state.sort = th.dataset.sort;
      state.offset = 0;
      guard(loadRows());
    }));
    $("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); guard(loadRows()); });
    $("#next").addEventListener("click", () => { state.offset += PAGE; guard(loadRows()); });
    $("#doc-select").addEventListener("change", (ev) => guard(showDocument(ev.target.value, null)));
    window.addEventListener("hashchange", () => guard(route()));

    await loadFacets();
    const [docs] = await Promise.all([loadDocumentList(), loadSummary(), loadTopics(), loadMetricCharts(), loadDlq(), loadSubjects(), loadRows()]);
    const routed = route();
    if (routed) {
      await routed;
    } else if (docs.length) {
      // Open the document with the most metrics, so the view shows highlights from the start.
      const best = docs.reduce((a, b) => (b.metric_count > a.metric_count ? b : a));
      await showDocument(best.doc_id, null);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    guard(init()).finally(() => {
      state.ready = true;
      document.body.dataset.ready = state.errors.length ? "error" : "ok";
    });
  });
})();
