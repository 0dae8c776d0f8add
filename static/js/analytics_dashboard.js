/* Analytics dashboard: every panel is fetched from the staff JSON API (/api/analytics/...).
   Text goes into the page through textContent only (never innerHTML with data). */
(function () {
  "use strict";
  const root = document.getElementById("analytics-dashboard");
  if (!root) return;
  const API = root.dataset.api;
  const form = document.getElementById("an-filters");
  const statusEl = document.getElementById("an-status");
  const charts = {};
  const money = new Intl.NumberFormat(undefined, { style: "currency", currency: "GBP", maximumFractionDigits: 0 });
  const money2 = new Intl.NumberFormat(undefined, { style: "currency", currency: "GBP" });
  const num = new Intl.NumberFormat();

  // At most N requests in flight (data-max-parallel): the API answers fast, and the test
  // server over an in-memory SQLite database must not get concurrent queries.
  const maxParallel = Math.max(1, Number(root.dataset.maxParallel || 4));
  let inFlight = 0;
  const waiting = [];
  async function limitedFetch(resource, options) {
    if (inFlight >= maxParallel) await new Promise((resolve) => waiting.push(resolve));
    inFlight += 1;
    try { return await fetch(resource, options); } finally {
      inFlight -= 1;
      const next = waiting.shift();
      if (next) next();
    }
  }
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function filters() {
    const data = new FormData(form);
    const params = new URLSearchParams();
    for (const [k, v] of data.entries()) if (v) params.set(k, v);
    return params;
  }
  function url(endpoint, extra, noFilter) {
    const params = noFilter ? new URLSearchParams() : filters();
    new URLSearchParams(extra || "").forEach((v, k) => params.set(k, v));
    return API + endpoint + "/?" + params.toString();
  }
  async function getJSON(endpoint, extra) {
    const response = await limitedFetch(url(endpoint, extra), { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || JSON.stringify(body));
    return body;
  }
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function table(columns, rows) {
    const t = el("table", null, "an-table");
    const head = t.createTHead().insertRow();
    columns.forEach((c) => head.appendChild(el("th", c.label)));
    const body = t.createTBody();
    if (!rows.length) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = columns.length; cell.textContent = "No data in this range."; cell.className = "an-muted";
    }
    rows.forEach((r) => {
      const tr = body.insertRow();
      columns.forEach((c) => { const td = tr.insertCell(); td.textContent = c.format ? c.format(r[c.key], r) : (r[c.key] ?? ""); });
    });
    return t;
  }
  function put(id, node) { const target = document.getElementById(id); target.replaceChildren(node); }
  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts[id] = new window.Chart(document.getElementById(id), config);
  }
  // Panels over very many shoppers read a uniform hash sample (analytics/sampling.py): say so.
  function sampleNote(data) {
    const f = data && data.sampled_fraction;
    return f && f < 1 ? " Estimated from a 1-in-" + Math.round(1 / f) + " sample of shoppers." : "";
  }
  function fail(id, error) { put(id, el("p", "Could not load: " + error.message, "an-error")); }

  const KPI_FORMAT = {
    gmv: (v) => money.format(v), aov: (v) => money2.format(v),
    conversion_rate: (v) => (v * 100).toFixed(1) + "%", dau: (v) => num.format(v),
  };
  async function loadKpis() {
    const grid = document.getElementById("an-kpis");
    try {
      const data = await getJSON("kpis");
      grid.replaceChildren();
      data.kpis.forEach((k) => {
        const card = el("div", null, "an-card");
        card.appendChild(el("div", k.label, "k"));
        const fmt = KPI_FORMAT[k.key] || ((v) => num.format(v));
        card.appendChild(el("div", k.value === null ? "–" : fmt(k.value), "v"));
        let change = "no previous data", cls = "an-flat";
        if (k.change !== null && k.change !== undefined) {
          change = (k.change > 0 ? "▲ " : k.change < 0 ? "▼ " : "") + (Math.abs(k.change) * 100).toFixed(1) + "% vs previous";
          cls = k.change > 0 ? "an-up" : k.change < 0 ? "an-down" : "an-flat";
        }
        if (k.definition) card.title = k.definition;
        const c = el("div", change, "c " + cls);
        c.title = "Previous period " + data.previous_start + " – " + data.previous_end + ": " + (k.previous === null ? "–" : fmt(k.previous));
        card.appendChild(c);
        grid.appendChild(card);
      });
    } catch (e) { grid.replaceChildren(el("p", "Could not load KPIs: " + e.message, "an-error")); }
  }
  async function loadTrend() {
    const metric = document.getElementById("an-trend-metric").value;
    const interval = document.getElementById("an-trend-interval").value;
    const errorEl = document.getElementById("an-trend-error");
    errorEl.textContent = "";
    try {
      const data = await getJSON("trends", "metric=" + metric + "&interval=" + interval);
      chart("an-trend-chart", {
        type: "line",
        data: { labels: data.series.map((p) => p.period), datasets: [{ label: metric, data: data.series.map((p) => p.value),
          borderColor: "#417690", backgroundColor: "rgba(65,118,144,0.15)", fill: true, pointRadius: 1.5, tension: 0.2 }] },
        options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
      });
    } catch (e) { errorEl.textContent = e.message; }
  }
  function funnelBody() {
    const f = filters();
    return {
      start: f.get("start"), end: f.get("end"), segment: f.get("segment") || "", country: f.get("country") || "",
      category: f.get("category") ? Number(f.get("category")) : null,
      steps: Array.from(document.querySelectorAll("#an-funnel-steps .an-funnel-step")).map((s) => s.value).filter(Boolean),
      window: document.getElementById("an-funnel-window").value,
      breakdown: document.getElementById("an-funnel-breakdown").value,
    };
  }
  async function postFunnel(format) {
    return limitedFetch(API + "funnel/" + (format ? "?format=" + format : ""), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: format === "csv" ? "text/csv" : "application/json" },
      body: JSON.stringify(funnelBody()),
    });
  }
  async function loadFunnel() {
    try {
      const response = await postFunnel();
      const data = await response.json();
      if (!response.ok) throw new Error(data.detail || JSON.stringify(data));
      chart("an-funnel-chart", {
        type: "bar",
        data: { labels: data.step_counts.map((s) => s.step), datasets: [{ label: "Shoppers", data: data.step_counts.map((s) => s.count), backgroundColor: "#79aec8" }] },
        options: { indexAxis: "y", plugins: { legend: { display: false } } },
      });
      const pct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");
      const wrap = el("div");
      const median = data.median_seconds_to_convert;
      wrap.appendChild(el("p", "Entered " + num.format(data.entered) + ", converted " + num.format(data.converted) + " (" + pct(data.conversion_rate) +
        "); median time to convert " + (median === null ? "–" : (median / 3600).toFixed(1) + " h") + "." + sampleNote(data), "an-muted"));
      wrap.appendChild(table([
        { key: "step", label: "Step" }, { key: "count", label: "Shoppers", format: (v) => num.format(v) },
        { key: "conversion_from_previous", label: "From previous", format: pct },
        { key: "conversion_from_start", label: "From start", format: pct },
        { key: "drop_off", label: "Drop-off", format: (v) => num.format(v) },
      ], data.step_counts));
      if (data.groups) {
        wrap.appendChild(el("h3", "Split by " + data.breakdown));
        const cols = [{ key: "group", label: data.breakdown, format: (v) => v || "(unknown)" }];
        data.steps.forEach((s, i) => cols.push({ key: "s" + i, label: s, format: (v) => num.format(v) }));
        cols.push({ key: "conversion_rate", label: "Conversion", format: pct });
        wrap.appendChild(table(cols, data.groups.map((g) => {
          const row = { group: g.group, conversion_rate: g.conversion_rate };
          g.step_counts.forEach((s, i) => { row["s" + i] = s.count; });
          return row;
        })));
      }
      put("an-funnel-table", wrap);
    } catch (e) { fail("an-funnel-table", e); }
  }
  function retentionRange() {
    const f = filters();
    const period = document.getElementById("an-ret-period").value;
    const end = new Date(f.get("end") + "T00:00:00Z");
    const minStart = new Date(end);
    if (period === "month") minStart.setUTCMonth(minStart.getUTCMonth() - 6); else minStart.setUTCDate(minStart.getUTCDate() - 56);
    const start = new Date(f.get("start") + "T00:00:00Z");
    return (start < minStart ? start : minStart).toISOString().slice(0, 10);
  }
  async function loadRetention() {
    const period = document.getElementById("an-ret-period").value;
    const event = document.getElementById("an-ret-event").value;
    try {
      const data = await getJSON("retention", "period=" + period + "&event=" + event + "&start=" + retentionRange());
      const width = Math.max(1, ...data.cohorts.map((c) => c.retained.length));
      const t = el("table", null, "an-table an-heat");
      const head = t.createTHead().insertRow();
      head.appendChild(el("th", "Cohort")); head.appendChild(el("th", "Size"));
      for (let k = 0; k < width; k += 1) head.appendChild(el("th", (period === "month" ? "M" : "W") + k));
      const body = t.createTBody();
      data.cohorts.forEach((c) => {
        const tr = body.insertRow();
        tr.insertCell().textContent = c.cohort;
        tr.insertCell().textContent = num.format(c.size);
        for (let k = 0; k < width; k += 1) {
          const td = tr.insertCell();
          if (k < c.retained.length) {
            const share = c.size ? c.retained[k] / c.size : 0;
            td.textContent = (share * 100).toFixed(0) + "%";
            td.title = num.format(c.retained[k]) + " of " + num.format(c.size);
            td.style.background = "rgba(65,118,144," + (0.08 + 0.85 * share).toFixed(2) + ")";
            td.style.color = share > 0.45 ? "#fff" : "";
          }
        }
      });
      if (!data.cohorts.length) body.insertRow().insertCell().textContent = "No cohorts in this range.";
      put("an-retention", t);
    } catch (e) { fail("an-retention", e); }
  }
  const TOPS = [
    ["products", "an-top-products", [{ key: "title", label: "Product" }, { key: "revenue", label: "Revenue", format: (v) => money.format(v) },
      { key: "units", label: "Units", format: (v) => num.format(v) }, { key: "orders", label: "Orders" }, { key: "views", label: "Views" }]],
    ["categories", "an-top-categories", [{ key: "name", label: "Category" }, { key: "revenue", label: "Revenue", format: (v) => money.format(v) },
      { key: "units", label: "Units", format: (v) => num.format(v) }, { key: "orders", label: "Orders" }]],
    ["searches", "an-top-searches", [{ key: "term", label: "Search term" }, { key: "searches", label: "Searches" }, { key: "searchers", label: "Searchers" }]],
    ["zero_result_searches", "an-top-zero", [{ key: "term", label: "Search term" }, { key: "searches", label: "Searches" }, { key: "source", label: "How known" }]],
    ["abandoned_carts", "an-top-carts", [{ key: "cart_id", label: "Cart" }, { key: "user_id", label: "Customer id", format: (v) => v ?? "guest" },
      { key: "updated_at", label: "Last change", format: (v) => v.slice(0, 16).replace("T", " ") }, { key: "units", label: "Units" },
      { key: "value", label: "Value left", format: (v) => money2.format(v) }]],
    ["countries", "an-top-countries", [{ key: "country", label: "Country" }, { key: "revenue", label: "Revenue", format: (v) => money.format(v) }, { key: "orders", label: "Orders" }]],
  ];
  async function loadTops() {
    await Promise.all(TOPS.map(async ([dimension, id, columns]) => {
      try {
        const data = await getJSON("top", "dimension=" + dimension + "&limit=10");
        const wrap = el("div");
        if (dimension === "abandoned_carts") wrap.appendChild(el("p", num.format(data.carts) + " carts idle for " + data.idle_hours + " h or more, " + money2.format(data.value_left) + " left in them.", "an-muted"));
        wrap.appendChild(table(columns, data.items));
        if (sampleNote(data)) wrap.appendChild(el("p", sampleNote(data).trim(), "an-muted"));
        put(id, wrap);
      } catch (e) { fail(id, e); }
    }));
  }
  async function loadHeatmap() {
    const event = document.getElementById("an-heat-event").value;
    try {
      const data = await getJSON("heatmap", "event=" + event);
      const max = Math.max(1, ...data.matrix.flat());
      const t = el("table", null, "an-table an-heat");
      const head = t.createTHead().insertRow();
      head.appendChild(el("th", ""));
      for (let h = 0; h < 24; h += 1) head.appendChild(el("th", String(h).padStart(2, "0")));
      const body = t.createTBody();
      data.matrix.forEach((row, i) => {
        const tr = body.insertRow();
        tr.insertCell().textContent = data.weekdays[i];
        row.forEach((v, h) => {
          const td = tr.insertCell();
          td.textContent = v ? num.format(v) : "";
          td.title = data.weekdays[i] + " " + h + ":00 – " + num.format(v);
          td.style.background = v ? "rgba(200,80,40," + (0.08 + 0.85 * v / max).toFixed(2) + ")" : "";
          td.style.color = v / max > 0.55 ? "#fff" : "";
        });
      });
      put("an-heatmap", t);
    } catch (e) { fail("an-heatmap", e); }
  }
  async function loadDistributions() {
    const specs = [["age", "an-dist-age", "#79aec8"], ["gender", "an-dist-gender", "#d98c5f"], ["browsing_count", "an-dist-browsing", "#8cbf7f"]];
    await Promise.all(specs.map(async ([field, id, color]) => {
      try {
        const data = await getJSON("distributions", "field=" + field);
        chart(id, {
          type: "bar",
          data: { labels: data.buckets.map((b) => b.bucket), datasets: [{ label: data.population, data: data.buckets.map((b) => b.count), backgroundColor: color }] },
          options: { plugins: { legend: { display: false }, title: { display: true, text: data.population + (data.mean ? " · mean " + data.mean : "") + sampleNote(data) } } },
        });
      } catch (e) { document.getElementById(id).replaceWith(el("p", "Could not load: " + e.message, "an-error")); }
    }));
  }
  async function loadSegments() {
    try {
      const rfm = await getJSON("rfm", "", true);
      document.getElementById("an-rfm-note").textContent = num.format(rfm.customers) + " customers scored on their orders up to and including " + rfm.orders_through + " (R, F, M = 1–5 by quintile).";
      const segs = rfm.segments.filter((s) => s.size > 0);
      chart("an-rfm-chart", {
        type: "bar",
        data: { labels: segs.map((s) => s.name), datasets: [
          { label: "Customers", data: segs.map((s) => s.size), backgroundColor: "#79aec8", yAxisID: "y" },
          { label: "Value (GMV)", data: segs.map((s) => s.monetary), backgroundColor: "#d98c5f", yAxisID: "y1" }] },
        options: { scales: { y: { beginAtZero: true, position: "left" }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } },
      });
      put("an-rfm-table", table([
        { key: "name", label: "Segment" }, { key: "size", label: "Customers", format: (v) => num.format(v) },
        { key: "share", label: "Share", format: (v) => (v * 100).toFixed(1) + "%" },
        { key: "monetary", label: "Value", format: (v) => money.format(v) },
        { key: "avg_recency_days", label: "Avg days since", format: (v) => v ?? "–" },
        { key: "avg_frequency", label: "Avg orders", format: (v) => v ?? "–" },
      ], rfm.segments));
    } catch (e) { fail("an-rfm-table", e); }
    try {
      const data = await API_GET_SEGMENTS();
      const clusters = data.items.filter((s) => s.kind === "cluster");
      const wrap = el("div");
      if (!clusters.length) wrap.appendChild(el("p", "No clusters yet: they are computed by the analytics.cluster_segments task (or manage.py train_models).", "an-muted"));
      else wrap.appendChild(table([
        { key: "name", label: "Cluster" }, { key: "size", label: "Shoppers", format: (v) => num.format(v) },
        { key: "monetary", label: "Value", format: (v) => (v === null || v === undefined ? "–" : money.format(v)) },
        { key: "description", label: "What sets them apart" },
      ], clusters));
      put("an-clusters", wrap);
    } catch (e) { fail("an-clusters", e); }
  }
  async function API_GET_SEGMENTS() {
    const response = await limitedFetch(API + "segments/", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  function wireCsvLinks() {
    root.querySelectorAll("a[data-csv]").forEach((a) => {
      a.addEventListener("click", (event) => {
        let extra = a.dataset.extra || "";
        if (a.dataset.csv === "trends") extra = "metric=" + document.getElementById("an-trend-metric").value + "&interval=" + document.getElementById("an-trend-interval").value;
        if (a.dataset.csv === "retention") extra = "period=" + document.getElementById("an-ret-period").value + "&event=" + document.getElementById("an-ret-event").value + "&start=" + retentionRange();
        if (a.dataset.csv === "heatmap") extra = "event=" + document.getElementById("an-heat-event").value;
        a.href = url(a.dataset.csv, extra + "&format=csv", a.dataset.nofilter === "1");
        void event;
      });
    });
    document.getElementById("an-funnel-csv").addEventListener("click", async (event) => {
      event.preventDefault();
      const response = await postFunnel("csv");
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob); link.download = "funnel.csv"; link.click();
      URL.revokeObjectURL(link.href);
    });
  }

  async function loadAll() {
    statusEl.textContent = "Loading…";
    // "Refresh these dates now" refreshes the range on screen.
    const refreshForm = document.getElementById("an-refresh-form");
    if (refreshForm) {
      refreshForm.elements.start.value = form.elements.start.value;
      refreshForm.elements.end.value = form.elements.end.value;
    }
    await Promise.all([loadKpis(), loadTrend(), loadFunnel(), loadRetention(), loadTops(), loadHeatmap(), loadDistributions(), loadSegments()]);
    statusEl.textContent = "Updated " + new Date().toLocaleTimeString();
    root.dataset.loaded = "1";
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); loadAll(); });
  document.getElementById("an-trend-metric").addEventListener("change", loadTrend);
  document.getElementById("an-trend-interval").addEventListener("change", loadTrend);
  ["an-funnel-window", "an-funnel-breakdown"].forEach((id) => document.getElementById(id).addEventListener("change", loadFunnel));
  document.querySelectorAll("#an-funnel-steps .an-funnel-step").forEach((s) => s.addEventListener("change", loadFunnel));
  ["an-ret-period", "an-ret-event"].forEach((id) => document.getElementById(id).addEventListener("change", loadRetention));
  document.getElementById("an-heat-event").addEventListener("change", loadHeatmap);
  wireCsvLinks();
  loadAll();
})();
