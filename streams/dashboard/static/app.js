/* newsetl dashboard page: fetches /api/*, draws ECharts charts (topic shares, map, totals, DLQ),
 * the metrics, facts and flags tables and the document view. Text from the data is always inserted
 * with textContent or text nodes, never parsed as HTML. The date range in the header applies to
 * every chart and table; each table has a CSV link (the same API call with format=csv).
 *
 * window.newsetlDashboard exposes the page state for automated checks:
 *   ready (initial load finished), errors (failed requests / script errors), charts (id -> ECharts),
 *   maps (level -> registered map name), counts() -> {charts: {id: data points}, rows, facts,
 *   flags, marks, mapColoured}.
 */
"use strict";

(function () {
  const CJK_FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", ' +
    '"Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif';
  const TOPIC_COLORS = { "产业": "#2f6fde", "健康": "#1aa179", "教育": "#e8a33d", "就业": "#c2459b", "other": "#9aa5b1" };
  const PAGE = 25;
  const CSV_ROWS = 100000;
  // The vendored GeoJSON per map level (static/vendor/README.txt), registered on first use.
  const MAP_FILES = { province: "/static/vendor/china-province.json", prefecture: "/static/vendor/china-prefecture.json" };

  const state = {
    ready: false,
    errors: [],
    charts: {},
    sort: "value",
    order: "desc",
    offset: 0,
    total: 0,
    metricChoices: [],
    maps: {},
    mapNames: {},
    facts: { sort: "mentions", order: "desc", offset: 0, total: 0 },
    flags: { offset: 0, total: 0 },
  };
  window.newsetlDashboard = state;
  state.counts = function () {
    const charts = {};
    for (const [id, chart] of Object.entries(state.charts)) {
      const series = chart.getOption().series || [];
      charts[id] = series.reduce((n, s) => n + (s.data || []).filter((v) => v !== 0 && v !== null).length, 0);
    }
    const mapSeries = state.charts["chart-map"] ? (state.charts["chart-map"].getOption().series || [])[0] : null;
    return {
      charts: charts,
      rows: document.querySelectorAll("#metrics-table tbody tr.metric-row").length,
      facts: document.querySelectorAll("#facts-table tbody tr.fact-row").length,
      flags: document.querySelectorAll("#flags-table tbody tr.flag-row").length,
      marks: document.querySelectorAll("#doc-text mark").length,
      mapColoured: mapSeries ? (mapSeries.data || []).filter((d) => d.value > 0).map((d) => d.name) : [],
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

  function apiUrl(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, value);
    }
    return url;
  }

  // The CSV link of a table: the same call as its JSON, every row (up to CSV_ROWS).
  function csvLink(id, path, params) {
    const url = apiUrl(path, Object.assign({}, params, { format: "csv", limit: CSV_ROWS, offset: "" }));
    const link = document.getElementById(id);
    link.href = url.pathname + url.search;
  }

  async function api(path, params) {
    const url = apiUrl(path, params);
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({ error: "invalid JSON from " + path }));
    if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
    return body;
  }

  const fmt = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 2 });
  const formatNumber = (v) => (v === null || v === undefined ? "–" : fmt.format(v));

  function chart(id) {
    if (!state.charts[id]) {
      const node = document.getElementById(id);
      state.charts[id] = echarts.init(node, null, { renderer: "canvas" });
      // A window resize can pass through a zero-sized viewport (e.g. a full-page screenshot): a map
      // resized to nothing has a singular view transform and ECharts throws, so wait for a size.
      window.addEventListener("resize", () => {
        if (node.clientWidth > 0 && node.clientHeight > 0) state.charts[id].resize();
      });
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
  function dates() {
    return { date_from: $("#date-from").value, date_to: $("#date-to").value };
  }

  // The metric filters (the year select holds reference years: facts have no other) and the dates.
  function filters() {
    const form = $("#filters");
    const choice = form.metric.value === "" ? null : state.metricChoices[Number(form.metric.value)] || null;
    return Object.assign({
      topic: form.topic.value,
      metric: choice ? choice.metric : "",
      unit: choice ? choice.unit : "",
      region: form.region.value,
      ref_year: form.year.value,
    }, dates());
  }

  function fillSelect(select, values, label) {
    const keep = select.value;
    select.replaceChildren(el("option", { value: "", textContent: "全部" }));
    values.forEach((value, i) => select.append(el("option", { value: label ? String(i) : String(value), textContent: label ? label(value) : String(value) })));
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }

  async function loadFacets() {
    const form = $("#filters");
    const facets = await api("/api/facets", Object.assign({ topic: form.topic.value }, dates()));
    if (!form.topic.options.length || form.topic.options.length === 1) fillSelect(form.topic, facets.topics);
    state.metricChoices = facets.metrics;
    const label = (m) => m.metric + "（" + m.unit + "）";
    fillSelect(form.metric, facets.metrics, label);
    fillSelect(form.region, facets.regions);
    fillSelect(form.year, facets.years);
    // The map's metric: a metric·unit pair, the one with most facts first (no "all").
    const select = $("#map-metric");
    const keep = select.value;
    select.replaceChildren(...facets.metrics.map((m) => el("option", { value: m.metric + "\u0000" + m.unit, textContent: label(m) })));
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }

  // --- charts ----------------------------------------------------------------------------------
  async function loadSummary() {
    const s = await api("/api/summary");
    // as_of: when the dashboard's copy of the data was taken (it follows new data within seconds)
    const asOf = s.as_of ? new Date(s.as_of).toLocaleTimeString() : "–";
    const items = [["文档", s.documents], ["指标", s.metrics], ["死信", s.dlq], ["时间", (s.first_day || "–") + " ~ " + (s.last_day || "–")], ["数据截至", asOf]];
    $("#summary").replaceChildren(...items.map(([k, v]) => el("div", {}, el("dt", { textContent: k }), el("dd", { textContent: typeof v === "number" ? formatNumber(v) : String(v ?? "–") }))));
  }

  async function loadTopics() {
    const data = await api("/api/topics", Object.assign({ granularity: $("#granularity").value, measure: $("#topic-measure").value }, dates()));
    const valueOf = {};
    data.series.forEach((s) => { valueOf[s.topic] = s.values; });
    chart("chart-topics").setOption(baseOption({
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        formatter: (items) => [items.length ? items[0].axisValueLabel : ""].concat(items.map((it) =>
          it.seriesName + "：" + (it.value * 100).toFixed(1) + "%（" + formatNumber((valueOf[it.seriesName] || [])[it.dataIndex]) + "）"))
          .map(echarts.format.encodeHTML).join("<br>"),
      },
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
            "事实：" + data.facts[i], "提及：" + data.mentions[i], "最新值：" + formatNumber(data.latest[i])].map(echarts.format.encodeHTML).join("<br>");
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
    if (!f.metric && state.metricChoices.length) {
      // Totals need one metric in one unit: the one with most facts (the facets' first choice), so
      // the server need not look it up again for each chart.
      f.metric = state.metricChoices[0].metric;
      f.unit = state.metricChoices[0].unit;
    }
    const regionParams = Object.assign({}, f, { region: "" });
    const yearParams = Object.assign({}, f, { ref_year: "" });
    const [byRegion, byYear] = await Promise.all([
      api("/api/metrics/by_region", regionParams),
      api("/api/metrics/by_year", yearParams),
    ]);
    csvLink("csv-region", "/api/metrics/by_region", Object.assign(regionParams, { metric: byRegion.metric, unit: byRegion.unit }));
    csvLink("csv-year", "/api/metrics/by_year", Object.assign(yearParams, { metric: byYear.metric, unit: byYear.unit }));
    const label = byRegion.metric ? byRegion.metric + "（" + byRegion.unit + "）" : "";
    document.querySelectorAll("[data-metric-label]").forEach((n) => { n.textContent = label; });
    chart("chart-region").setOption(barOption(byRegion, true), true);
    chart("chart-year").setOption(barOption(byYear, false), true);
  }

  // --- map -----------------------------------------------------------------------------------
  async function registerMap(level) {
    if (!state.maps[level]) {
      const response = await fetch(MAP_FILES[level]);
      if (!response.ok) throw new Error("map " + level + ": " + response.status);
      const geo = await response.json();
      const names = {};
      geo.features.forEach((f) => { names[f.properties.adcode] = f.properties.name; });
      echarts.registerMap("cn-" + level, { geoJSON: geo });
      state.mapNames[level] = names;
      state.maps[level] = "cn-" + level;
    }
    return state.maps[level];
  }

  async function loadMap() {
    const level = $("#map-level").value;
    const [metric, unit] = ($("#map-metric").value || "\u0000").split("\u0000");
    const params = Object.assign({ level: level, metric: metric, unit: unit, topic: $("#filters").topic.value }, dates());
    const [mapName, data] = await Promise.all([registerMap(level), api("/api/map", params)]);
    csvLink("csv-map", "/api/map", Object.assign(params, { metric: data.metric, unit: data.unit }));
    $("#map-label").textContent = data.metric ? data.metric + "（" + data.unit + "）" : "";
    const names = state.mapNames[level];
    const known = data.divisions.filter((d) => names[d.code]);
    const max = known.reduce((m, d) => Math.max(m, d.total), 0);
    chart("chart-map").setOption({
      textStyle: { fontFamily: CJK_FONT },
      animation: false,
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          const d = p.data;
          const lines = [names[p.name] || p.name];
          if (d) lines.push("合计：" + formatNumber(d.value) + " " + (data.unit || ""), "事实：" + d.facts, "提及：" + d.mentions);
          else lines.push("无数据");
          return lines.map(echarts.format.encodeHTML).join("<br>");
        },
      },
      visualMap: { type: "continuous", min: 0, max: max || 1, left: 10, bottom: 10, calculable: true,
        text: ["高", "低"], inRange: { color: ["#dbe8ff", "#2f6fde", "#0b2e6f"] }, formatter: (v) => formatNumber(v) },
      graphic: emptyGraphic(!known.length),
      series: [{
        name: data.metric || "", type: "map", map: mapName, nameProperty: "adcode", roam: true,
        itemStyle: { areaColor: "#eef1f5", borderColor: "#9aa5b1", borderWidth: 0.5 },
        emphasis: { label: { show: false }, itemStyle: { areaColor: "#ffd666" } },
        data: known.map((d) => ({ name: d.code, value: d.total, facts: d.facts, mentions: d.mentions })),
      }],
    }, true);
  }

  async function loadDlq() {
    const data = await api("/api/dlq", dates());
    chart("chart-dlq").setOption(baseOption({
      legend: { top: 0 },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      graphic: emptyGraphic(!data.days.length),
      series: data.series.map((s) => ({ name: s.kind, type: "bar", stack: "dlq", data: s.messages })),
    }), true);
  }

  async function loadSubjects() {
    const data = await api("/api/subjects", Object.assign({ limit: 12 }, dates()));
    csvLink("csv-subjects", "/api/subjects", dates());
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
    const params = Object.assign(filters(), { sort: state.sort, order: state.order });
    const data = await api("/api/metrics/rows", Object.assign({ limit: PAGE, offset: state.offset }, params));
    csvLink("csv-metrics", "/api/metrics/rows", params);
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
    pager("", state, state.total);
    markSorted("metrics-table", state);
  }

  // --- facts table -----------------------------------------------------------------------------
  function pager(prefix, page, total) {
    const last = Math.min(page.offset + PAGE, total);
    $("#" + prefix + "page-info").textContent = total ? (page.offset + 1) + "–" + last + " / " + formatNumber(total) : "0";
    $("#" + prefix + "prev").disabled = page.offset === 0;
    $("#" + prefix + "next").disabled = last >= total;
  }

  // the header of the column a table is sorted by, and its direction
  function markSorted(tableId, sorting) {
    document.querySelectorAll("#" + tableId + " th[data-sort]").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.sort === sorting.sort);
      th.classList.toggle("asc", th.dataset.sort === sorting.sort && sorting.order === "asc");
    });
  }

  const day = (v) => (v ? v.slice(0, 10) : "–");
  const flagTags = (flags) => (flags || []).map((f) => el("span", { className: "flag", textContent: f }));

  async function loadFacts() {
    const f = state.facts;
    const params = Object.assign(filters(), { sort: f.sort, order: f.order });
    const data = await api("/api/facts", Object.assign({ limit: PAGE, offset: f.offset }, params));
    csvLink("csv-facts", "/api/facts", params);
    f.total = data.total;
    const body = $("#facts-table tbody");
    if (!data.rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 11, textContent: "没有符合条件的事实" })));
    } else {
      body.replaceChildren(...data.rows.map((row) => {
        const tr = el("tr", { className: "fact-row", title: row.sentence },
          el("td", { textContent: row.region || "–" }),
          el("td", { textContent: row.ref_year ?? "–" }),
          el("td", { textContent: row.metric }),
          el("td", { className: "num", textContent: formatNumber(row.value) }),
          el("td", { textContent: row.unit }),
          el("td", { textContent: row.subject }),
          el("td", { className: "num", textContent: formatNumber(row.mentions) }),
          el("td", { className: "num", textContent: formatNumber(row.documents) }),
          el("td", { textContent: day(row.first_published) }),
          el("td", { textContent: day(row.last_published) }),
          el("td", {}, ...flagTags(row.flags)));
        tr.dataset.factId = row.fact_id;
        tr.addEventListener("click", () => guard(showMentions(row, tr)));
        return tr;
      }));
    }
    pager("facts-", f, f.total);
    markSorted("facts-table", f);
  }

  // A fact's source sentences: every mention, each linking to its document.
  async function showMentions(fact, tr) {
    const data = await api("/api/facts/mentions", { fact_id: fact.fact_id });
    document.querySelectorAll("#facts-table tr.selected").forEach((r) => r.classList.remove("selected"));
    tr.classList.add("selected");
    const box = $("#fact-mentions");
    box.hidden = false;
    box.replaceChildren(
      el("h3", { textContent: (fact.region || "") + " " + (fact.ref_year ?? "") + " " + fact.metric + "：" +
        formatNumber(fact.value) + " " + fact.unit + " · " + data.mentions.length + " 处提及" }),
      el("ol", {}, ...data.mentions.map((m) => el("li", {},
        el("span", { className: "meta", textContent: day(m.published_at) + " · " + (m.title || m.doc_id) + (m.duplicate_of ? "（转载）" : "") }),
        el("a", { href: "#doc=" + encodeURIComponent(m.doc_id), textContent: m.sentence })))));
  }

  // --- flags panel -----------------------------------------------------------------------------
  async function loadFlags() {
    const page = state.flags;
    const select = $("#flag-rule");
    const params = Object.assign({ rule: select.value }, dates());
    const data = await api("/api/flags", Object.assign({ limit: PAGE, offset: page.offset }, params));
    csvLink("csv-flags", "/api/flags", params);
    const keep = select.value;
    select.replaceChildren(el("option", { value: "", textContent: "全部" }), ...data.rules.map((r) =>
      el("option", { value: r.rule, textContent: r.rule + "（" + r.flagged + "）", title: r.explanation })));
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
    page.total = data.total;
    const body = $("#flags-table tbody");
    if (!data.rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 7, textContent: "没有被标记的数字" })));
    } else {
      body.replaceChildren(...data.rows.map((row) => {
        const link = el("a", { href: "#doc=" + encodeURIComponent(row.doc_id) + "&span=" + row.char_start + "-" + row.char_end, title: row.title || row.doc_id });
        const at = row.sentence.indexOf(row.span);
        if (at >= 0 && row.span) link.append(row.sentence.slice(0, at), el("mark", { textContent: row.span }), row.sentence.slice(at + row.span.length));
        else link.append(row.sentence);
        return el("tr", { className: "flag-row" },
          el("td", {}, el("span", { className: "flag", textContent: row.flag })),
          el("td", { textContent: row.explanation || "–" }),
          el("td", { textContent: day(row.published_at) }),
          el("td", { textContent: row.region || "–" }),
          el("td", { textContent: row.metric }),
          el("td", { className: "num", textContent: formatNumber(row.value) + " " + row.unit }),
          el("td", { className: "sentence" }, link));
      }));
    }
    pager("flags-", page, page.total);
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
    state.facts.offset = 0;
    await Promise.all([loadMetricCharts(), loadRows(), loadFacts()]);
  }

  // A new date range: every chart and table again.
  async function refreshAll() {
    state.flags.offset = 0;
    await loadFacets();
    await Promise.all([refreshMetrics(), loadTopics(), loadMap(), loadDlq(), loadSubjects(), loadFlags()]);
  }

  async function init() {
    if (typeof echarts === "undefined") throw new Error("ECharts did not load");
    $("#granularity").addEventListener("change", () => guard(loadTopics()));
    $("#topic-measure").addEventListener("change", () => guard(loadTopics()));
    $("#map-level").addEventListener("change", () => guard(loadMap()));
    $("#map-metric").addEventListener("change", () => guard(loadMap()));
    for (const id of ["#date-from", "#date-to"]) $(id).addEventListener("change", () => guard(refreshAll()));
    $("#dates").addEventListener("reset", () => setTimeout(() => guard(refreshAll()), 0));
    $("#flag-rule").addEventListener("change", () => { state.flags.offset = 0; guard(loadFlags()); });
    $("#flags-prev").addEventListener("click", () => { state.flags.offset = Math.max(0, state.flags.offset - PAGE); guard(loadFlags()); });
    $("#flags-next").addEventListener("click", () => { state.flags.offset += PAGE; guard(loadFlags()); });
    $("#facts-prev").addEventListener("click", () => { state.facts.offset = Math.max(0, state.facts.offset - PAGE); guard(loadFacts()); });
    $("#facts-next").addEventListener("click", () => { state.facts.offset += PAGE; guard(loadFacts()); });
    document.querySelectorAll("#facts-table th[data-sort]").forEach((th) => th.addEventListener("click", () => {
      const f = state.facts;
      f.order = f.sort === th.dataset.sort && f.order === "desc" ? "asc" : "desc";
      f.sort = th.dataset.sort;
      f.offset = 0;
      guard(loadFacts());
    }));
    const form = $("#filters");
    form.topic.addEventListener("change", () => guard(loadFacets().then(() => Promise.all([refreshMetrics(), loadMap()]))));
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
    const [docs] = await Promise.all([loadDocumentList(), loadSummary(), loadTopics(), loadMetricCharts(), loadMap(), loadDlq(),
      loadSubjects(), loadRows(), loadFacts(), loadFlags()]);
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
