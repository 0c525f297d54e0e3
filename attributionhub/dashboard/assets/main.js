// The dashboard: sign-in, the report settings, and one loader per panel. Every number
// comes from the public GraphQL API (/graphql); see docs/concepts.md for what they mean.

import {
  ApiError,
  ATTRIBUTION_QUERY,
  BREAKDOWN_DIMENSIONS,
  BREAKDOWN_QUERY,
  graphql,
  PAGES_QUERY,
  SESSIONS_QUERY,
  SITE_QUERY,
  TIMESERIES_QUERY,
} from "./api.js";
import { barChart } from "./chart.js";
import { cell, fmt, h, message, table } from "./dom.js";
import {
  browserTimeZone,
  formatBucket,
  formatDuration,
  formatInstant,
  presetDays,
  timeZones,
  windowBounds,
} from "./time.js";

const KEY_STORAGE = "attributionhub.apiKey";
const SESSIONS_PAGE_SIZE = 20;
const REPORT_ROWS = 20;
const BREAKDOWN_ROWS = 10;
const SESSION_FILTERS = ["source", "medium", "campaign", "content", "term", "landingPage"];
const CONVERSION_FIELDS = ["conversionPage", "metaType", "metaId"];
const FILTER_NAMES = {
  source: "source",
  medium: "medium",
  campaign: "campaign",
  content: "content",
  term: "term",
  landingPage: "landing page",
  conversionPage: "conversion page",
  metaType: "meta type",
  metaId: "meta id",
};
const MODEL_NAMES = {
  FIRST_TOUCH: "First touch",
  LAST_TOUCH: "Last touch",
  LAST_NON_DIRECT: "Last non-direct",
  LINEAR: "Linear",
  POSITION_BASED: "Position-based",
  TIME_DECAY: "Time decay",
  DATA_DRIVEN: "Data-driven",
};
const PANELS = ["overview", "breakdowns", "pages", "attribution", "sessions"];

const $ = (id) => document.getElementById(id);

const state = {
  apiKey: null,
  preset: "7",
  firstDay: null,
  lastDay: null,
  timeZone: browserTimeZone(),
  interval: "DAY",
  filters: {},
  conversion: {},
  touchScope: "ANY",
  dimension: "CHANNEL",
  sessionsPage: 1,
  openSession: null,
};

// --- sign-in ----------------------------------------------------------------------------

function readStoredKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function showSignIn(error = "") {
  state.apiKey = null;
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (a locked-down browser): nothing was kept, nothing to remove.
  }
  for (const id of PANELS) {
    controllers.get(id)?.abort();
    $(id).querySelector(".body").replaceChildren();
    $(id).querySelector(".frame").textContent = "";
  }
  $("main").dataset.state = "idle";
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("site-name").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = error;
  $("api-key").value = "";
  $("api-key").focus();
}

function showApp(site) {
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  if (site) {
    $("site-name").textContent = `Site: ${site.name}`;
    $("site-name").hidden = false;
  }
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  const error = $("sign-in-error");
  if (!key) {
    error.textContent = "Enter an API key.";
    return;
  }
  error.textContent = "Checking the key…";
  try {
    const data = await graphql(key, SITE_QUERY);
    state.apiKey = key;
    try {
      sessionStorage.setItem(KEY_STORAGE, key);
    } catch {
      // Kept in memory only: the tab still works until it is closed.
    }
    error.textContent = "";
    showApp(data.site);
    loadAll();
    $("main").focus();
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : String(err);
  }
}

// --- settings ---------------------------------------------------------------------------

function windowParams() {
  return windowBounds(state.firstDay, state.lastDay, state.timeZone);
}

function nonEmpty(values) {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== ""));
}

function sessionFilter() {
  return { ...windowParams(), ...nonEmpty(state.filters) };
}

function aggregateFilter() {
  return { ...sessionFilter(), ...nonEmpty(state.conversion) };
}

function defaultInterval(days) {
  if (days <= 2) return "HOUR";
  if (days <= 92) return "DAY";
  return "WEEK";
}

function spanDays() {
  const a = Date.parse(state.firstDay);
  const b = Date.parse(state.lastDay);
  return Math.round((b - a) / 86_400_000) + 1;
}

function applyPreset(preset) {
  state.preset = preset;
  for (const button of document.querySelectorAll(".preset")) {
    button.setAttribute("aria-pressed", String(button.dataset.preset === preset));
  }
  $("custom-dates").hidden = preset !== "custom";
  if (preset !== "custom") {
    const days = presetDays(preset, state.timeZone);
    state.firstDay = days.firstDay;
    state.lastDay = days.lastDay;
    $("start-date").value = days.firstDay;
    $("end-date").value = days.lastDay;
    state.interval = defaultInterval(spanDays());
    $("interval").value = state.interval;
  }
}

function readControls() {
  if (state.preset === "custom") {
    const first = $("start-date").value;
    const last = $("end-date").value;
    if (!first || !last) return "Choose both days of the custom window.";
    if (first > last) return "The custom window's first day is after its last day.";
    state.firstDay = first;
    state.lastDay = last;
  } else {
    applyPreset(state.preset);
  }
  state.timeZone = $("time-zone").value;
  state.interval = $("interval").value;
  for (const input of document.querySelectorAll("[data-filter]")) {
    state.filters[input.dataset.filter] = input.value.trim();
  }
  for (const input of document.querySelectorAll("[data-conversion]")) {
    state.conversion[input.dataset.conversion] = input.value.trim();
  }
  return "";
}

function writeFilterInputs() {
  for (const input of document.querySelectorAll("[data-filter]")) {
    input.value = state.filters[input.dataset.filter] || "";
  }
  for (const input of document.querySelectorAll("[data-conversion]")) {
    input.value = state.conversion[input.dataset.conversion] || "";
  }
}

function setFilter(name, value) {
  state.filters[name] = value;
  writeFilterInputs();
  state.sessionsPage = 1;
  state.openSession = null;
  loadAll();
  $("active").focus();
}

function renderActive() {
  const active = $("active");
  const chips = [];
  for (const [group, names] of [
    [state.filters, SESSION_FILTERS],
    [state.conversion, CONVERSION_FIELDS],
  ]) {
    for (const name of names) {
      if (!group[name]) continue;
      chips.push(
        h(
          "button",
          {
            type: "button",
            class: "chip",
            "aria-label": `Remove the ${FILTER_NAMES[name]} filter ${group[name]}`,
            onclick: () => {
              group[name] = "";
              writeFilterInputs();
              state.sessionsPage = 1;
              loadAll();
              $("active").focus();
            },
          },
          `${FILTER_NAMES[name]}: ${group[name]} ✕`
        )
      );
    }
  }
  const from = formatInstant(windowParams().startDate, state.timeZone, false);
  const to = formatInstant(windowParams().endDate, state.timeZone, false);
  active.replaceChildren(
    h("span", {}, `${from} – ${to} (${state.timeZone})`),
    chips.length ? " · Filtered by " : " · No filters",
    ...chips
  );
}

// --- loading ----------------------------------------------------------------------------

const controllers = new Map();
const pending = new Set();

function frameText(frame, note = "") {
  if (!frame) return "";
  const from = formatInstant(frame.start, state.timeZone);
  const to = formatInstant(frame.end, state.timeZone);
  return `${from} – ${to}${note}`;
}

// The service keeps the end of a window longer than a field allows: say so.
function shortened(frame, days) {
  const requested = Date.parse(windowParams().startDate);
  return Date.parse(frame.start) > requested ? ` (at most ${days} days here: the last ${days} of the window)` : "";
}

async function load(id, run) {
  controllers.get(id)?.abort();
  const controller = new AbortController();
  controllers.set(id, controller);
  const panel = $(id);
  const body = panel.querySelector(".body");
  panel.setAttribute("aria-busy", "true");
  pending.add(id);
  $("main").dataset.state = "loading";
  body.replaceChildren(message("Loading…", "loading"));
  try {
    const content = await run(controller.signal, panel);
    if (controller.signal.aborted) return;
    body.replaceChildren(...[content].flat());
  } catch (err) {
    if (controller.signal.aborted || err.name === "AbortError") return;
    if (err instanceof ApiError && err.unauthenticated) {
      showSignIn("Your API key is no longer accepted (it may have been renewed). Sign in again.");
      return;
    }
    panel.querySelector(".frame").textContent = "";
    body.replaceChildren(
      message(err instanceof ApiError ? err.message : `Something went wrong: ${err.message}`, "error")
    );
  } finally {
    if (controllers.get(id) === controller) {
      // Marks for bench/dashboard_bench.py: when each panel, then the whole page, was drawn.
      performance.mark(`dashboard-${id}`);
      panel.setAttribute("aria-busy", "false");
      pending.delete(id);
      if (!pending.size && state.apiKey) {
        $("main").dataset.state = "ready";
        performance.mark("dashboard-ready");
      }
    }
  }
}

function query(q, variables, signal) {
  return graphql(state.apiKey, q, variables, signal);
}

function loadAll() {
  renderActive();
  load("overview", loadOverview);
  load("breakdowns", loadBreakdowns);
  load("pages", loadPages);
  load("attribution", loadAttribution);
  load("sessions", loadSessions);
}

// --- overview ---------------------------------------------------------------------------

let lastSeries = null;

async function loadOverview(signal, panel) {
  const data = await query(
    TIMESERIES_QUERY,
    { filter: aggregateFilter(), interval: state.interval, timeZone: state.timeZone },
    signal
  );
  const series = data.timeseries;
  panel.querySelector(".frame").textContent = frameText(series.timeFrame, shortened(series.timeFrame, 90));
  lastSeries = { series, interval: state.interval, timeZone: state.timeZone };
  return renderOverview();
}

function renderOverview() {
  const { series, interval, timeZone } = lastSeries;
  const buckets = series.buckets;
  const sum = (key) => buckets.reduce((total, b) => total + b[key], 0);
  const sessions = sum("sessions");
  const converting = sum("convertingSessions");
  const tiles = h(
    "dl",
    { class: "tiles" },
    tile("sessions", "Sessions", fmt.int(sessions)),
    tile("conversions", "Conversions", fmt.int(sum("conversions"))),
    tile("converting", "Converting sessions", fmt.int(converting)),
    tile("rate", "Conversion rate", sessions ? fmt.pct(converting / sessions) : "–")
  );
  if (!sessions) return [tiles, message("No sessions in this window.")];
  const labels = buckets.map((b) => formatBucket(b.start, interval, timeZone));
  const width = Math.max(240, $("overview").querySelector(".body").clientWidth || 600);
  const charts = h(
    "div",
    { class: "charts" },
    h("h3", {}, "Sessions"),
    barChart({ title: "Sessions", buckets, key: "sessions", labels, width, className: "sessions" }),
    h("h3", {}, "Conversions"),
    barChart({ title: "Conversions", buckets, key: "conversions", labels, width, className: "conversions" })
  );
  const rows = buckets.map((b, i) =>
    h(
      "tr",
      {},
      cell(labels[i]),
      cell(fmt.int(b.sessions), { numeric: true }),
      cell(fmt.int(b.users), { numeric: true }),
      cell(fmt.int(b.conversions), { numeric: true }),
      cell(fmt.int(b.convertingSessions), { numeric: true })
    )
  );
  const details = h(
    "details",
    {},
    h("summary", {}, "The same figures as a table"),
    table("Sessions and conversions per bucket", ["Bucket", "Sessions", "Users", "Conversions", "Converting sessions"], rows, {
      numeric: [1, 2, 3, 4],
    })
  );
  return [tiles, charts, details];
}

function tile(id, label, value) {
  return h("div", { class: "tile", id: `tile-${id}` }, h("dt", {}, label), h("dd", {}, value));
}

// --- breakdowns -------------------------------------------------------------------------

async function loadBreakdowns(signal, panel) {
  const data = await query(BREAKDOWN_QUERY, { filter: aggregateFilter(), limit: BREAKDOWN_ROWS }, signal);
  const first = data[BREAKDOWN_DIMENSIONS[0].by.toLowerCase()];
  panel.querySelector(".frame").textContent = frameText(first.timeFrame, shortened(first.timeFrame, 90));
  return h(
    "div",
    { class: "breakdowns" },
    BREAKDOWN_DIMENSIONS.map((d) => breakdownTable(d, data[d.by.toLowerCase()]))
  );
}

function breakdownTable(dimension, result) {
  const rows = result.rows;
  const heading = h(
    "h3",
    {},
    dimension.title,
    result.totalRows > rows.length ? ` (top ${rows.length} of ${fmt.int(result.totalRows)})` : ""
  );
  const section = h("section", { class: "breakdown", id: `breakdown-${dimension.by.toLowerCase()}` }, heading);
  if (!rows.length) {
    section.append(message("No sessions."));
    return section;
  }
  const max = Math.max(...rows.map((r) => r.sessions));
  const body = rows.map((r) => {
    const shown = r.value === null ? "(not set)" : r.value;
    const active = dimension.filter && state.filters[dimension.filter] === r.value;
    const label =
      dimension.filter && r.value !== null && !active
        ? h(
            "button",
            {
              type: "button",
              class: "link",
              dataset: { dimension: dimension.filter, value: r.value },
              "aria-label": `Filter by ${FILTER_NAMES[dimension.filter]} ${r.value}`,
              onclick: () => setFilter(dimension.filter, r.value),
            },
            shown
          )
        : h("span", { class: r.value === null ? "muted" : null }, shown);
    const meter = h("meter", { min: 0, max, value: r.sessions, "aria-hidden": "true" });
    return h(
      "tr",
      {},
      h("td", { class: "value" }, label, meter),
      cell(fmt.int(r.sessions), { numeric: true, value: r.sessions }),
      cell(fmt.int(r.conversions), { numeric: true, value: r.conversions }),
      cell(fmt.pct(r.conversionRate), { numeric: true })
    );
  });
  section.append(
    table(`Sessions by ${dimension.title.toLowerCase()}`, [dimension.title, "Sessions", "Conv.", "Rate"], body, {
      numeric: [1, 2, 3],
    })
  );
  if (!dimension.filter) {
    section.append(h("p", { class: "hint" }, "Channels group sources and media; filter by a source or medium."));
  }
  return section;
}

// --- the page report --------------------------------------------------------------------

async function loadPages(signal, panel) {
  const filter = { ...aggregateFilter(), touchScope: state.touchScope };
  const data = await query(PAGES_QUERY, { filter, limit: REPORT_ROWS }, signal);
  const report = data.pages;
  if (!report) {
    panel.querySelector(".frame").textContent = "";
    return message("No sessions match in this window.");
  }
  panel.querySelector(".frame").textContent = frameText(report.timeFrame, shortened(report.timeFrame, 30));
  const t = report.summaryTotals;
  const totals = h(
    "dl",
    { class: "tiles small" },
    tile("pages-sessions", "Sessions", fmt.int(t.totalSessions)),
    tile("pages-users", "Users", fmt.int(t.totalUsers)),
    tile("pages-conversions", "Conversions", fmt.int(t.totalConversionEvents)),
    tile("pages-converted-users", "Converted users", fmt.int(t.totalConversionUsers))
  );
  const count = (role) => cell(`${fmt.int(role.sessions)} (${fmt.int(role.users)})`, { numeric: true, value: role.sessions });
  const urlCell = (url) => h("td", { class: "url" }, url);
  const conversions = report.conversionPerformance.map((p) =>
    h("tr", {}, urlCell(p.url), count(p.conversion), count(p.conversionAssist), count(p.landingAssistedConversion))
  );
  const dropOffs = report.dropOffPerformance.map((p) =>
    h("tr", {}, urlCell(p.url), count(p.dropOff), count(p.dropOffAssist), count(p.landingAssistedDropOff))
  );
  const conversionTable = conversions.length
    ? table("Pages of converting sessions", ["Page", "Conversion", "Assist", "Landing"], conversions, { numeric: [1, 2, 3] })
    : message("No converting sessions.");
  conversionTable.classList.add("pages-conversion");
  const dropOffTable = dropOffs.length
    ? table("Pages of sessions that dropped off", ["Page", "Drop-off", "Assist", "Landing"], dropOffs, { numeric: [1, 2, 3] })
    : message("No closed session without a conversion.");
  dropOffTable.classList.add("pages-drop-off");
  return [
    totals,
    h("p", { class: "hint" }, "Each figure: sessions (distinct visitors)."),
    h("h3", {}, "Converting sessions"),
    conversionTable,
    h("h3", {}, "Sessions that dropped off"),
    dropOffTable,
  ];
}

// --- attribution ------------------------------------------------------------------------

async function loadAttribution(signal, panel) {
  const filter = { ...windowParams(), ...nonEmpty(state.conversion), dimension: state.dimension };
  const data = await query(ATTRIBUTION_QUERY, { filter }, signal);
  const report = data.attribution;
  const ignored = SESSION_FILTERS.some((f) => state.filters[f]);
  const note = ignored ? h("p", { class: "hint" }, "Attribution credits every session of the converting visitors: the session filters do not apply to it.") : null;
  if (!report) {
    panel.querySelector(".frame").textContent = "";
    return [note, message("No conversions in this window.")].filter(Boolean);
  }
  panel.querySelector(".frame").textContent = frameText(
    report.timeFrame,
    ` (conversion time; paths look back ${report.lookbackDays} days)`
  );
  const t = report.summaryTotals;
  const totals = h(
    "dl",
    { class: "tiles small" },
    tile("attr-conversions", "Conversions", fmt.int(t.conversions)),
    tile("attr-users", "Converting users", fmt.int(t.convertingUsers)),
    tile("attr-revenue", "Revenue", fmt.money(t.revenue)),
    tile("attr-path", "Average path", `${fmt.dec(t.averagePathLength)} touches`)
  );
  const headers = ["Value", "Touches", ...report.models.map((m) => MODEL_NAMES[m] || m)];
  const numeric = headers.map((_, i) => i).slice(1);
  const rows = report.rows.map((r) =>
    h(
      "tr",
      {},
      h("td", { class: "url" }, r.value),
      cell(fmt.int(r.touches), { numeric: true }),
      r.credits.map((c) => cell(fmt.dec(c.conversions), { numeric: true, value: c.conversions }))
    )
  );
  const parts = [
    note,
    totals,
    h("h3", {}, "Conversions credited, by model"),
    table("Conversions credited by each model", headers, rows, { numeric }),
  ];
  if (t.revenue > 0) {
    const revenueRows = report.rows.map((r) =>
      h("tr", {}, h("td", { class: "url" }, r.value), r.credits.map((c) => cell(fmt.money(c.revenue), { numeric: true })))
    );
    const revenueHeaders = ["Value", ...report.models.map((m) => MODEL_NAMES[m] || m)];
    parts.push(
      h("h3", {}, "Revenue credited, by model"),
      table("Revenue credited by each model", revenueHeaders, revenueRows, { numeric: numeric.map((i) => i - 1) })
    );
  }
  if (report.topPaths.length) {
    parts.push(
      h("h3", {}, "Most frequent paths"),
      h(
        "ol",
        { class: "paths" },
        report.topPaths.slice(0, 5).map((p) => h("li", {}, `${p.path.join(" → ")}: ${fmt.int(p.conversions)}`))
      )
    );
  }
  return parts.filter(Boolean);
}

// --- sessions ---------------------------------------------------------------------------

async function loadSessions(signal, panel) {
  const data = await query(
    SESSIONS_QUERY,
    { filter: sessionFilter(), page: state.sessionsPage, pageSize: SESSIONS_PAGE_SIZE },
    signal
  );
  const result = data.sessions;
  const p = result.pagination;
  panel.querySelector(".frame").textContent = `${fmt.int(p.totalRecords)} sessions, newest first`;
  if (!result.records.length) return message("No sessions in this window.");
  const rows = result.records.flatMap((r) => sessionRows(r));
  const nav = h(
    "nav",
    { class: "pager", "aria-label": "Session pages" },
    h("button", { type: "button", class: "secondary", id: "sessions-prev", disabled: p.currentPage <= 1, onclick: () => goToPage(p.currentPage - 1) }, "Previous"),
    h("span", { id: "sessions-page", tabindex: "-1" }, `Page ${fmt.int(p.currentPage)} of ${fmt.int(p.totalPages)}`),
    h("button", { type: "button", class: "secondary", id: "sessions-next", disabled: p.currentPage >= p.totalPages, onclick: () => goToPage(p.currentPage + 1) }, "Next")
  );
  return [
    table("Sessions", ["Started", "Source / medium", "Campaign", "Landing page", "Conversion", "Duration", ""], rows),
    nav,
  ];
}

function goToPage(page) {
  state.sessionsPage = page;
  state.openSession = null;
  load("sessions", loadSessions).then(() => $("sessions-page")?.focus());
}

function sessionRows(r) {
  const open = state.openSession === r.id;
  const first = r.conversions[0];
  const detailsId = `session-${r.id}`;
  const toggle = h(
    "button",
    {
      type: "button",
      class: "secondary small",
      "aria-expanded": String(open),
      "aria-controls": detailsId,
      dataset: { session: r.id },
      onclick: (event) => {
        const opened = event.currentTarget.getAttribute("aria-expanded") !== "true";
        event.currentTarget.setAttribute("aria-expanded", String(opened));
        event.currentTarget.textContent = opened ? "Close" : "Open";
        $(detailsId).hidden = !opened;
        state.openSession = opened ? r.id : null;
      },
    },
    open ? "Close" : "Open"
  );
  const row = h(
    "tr",
    { class: "session" },
    cell(formatInstant(r.timestamp, state.timeZone)),
    cell(`${r.source} / ${r.medium}`),
    cell(r.campaign ?? ""),
    h("td", { class: "url" }, r.landingPage),
    cell(first ? first.email || first.metaType : ""),
    cell(formatDuration(r.duration)),
    h("td", {}, toggle)
  );
  const path = h(
    "ol",
    { class: "path" },
    r.pages.map((p) => h("li", {}, h("span", { class: "url" }, p.url), " ", h("time", { datetime: p.timestamp }, formatInstant(p.timestamp, state.timeZone))))
  );
  const conversions = r.conversions.map((c) =>
    h(
      "li",
      {},
      `${formatInstant(c.timestamp, state.timeZone)}: ${c.metaType}${c.metaId ? ` ${c.metaId}` : ""} on ${c.conversionPage}` +
        (c.email ? ` by ${c.email}` : "") +
        (c.value !== null && c.value !== undefined ? `, worth ${fmt.money(c.value)}` : "")
    )
  );
  const details = h(
    "tr",
    { class: "session-details", id: detailsId, hidden: !open },
    h(
      "td",
      { colspan: "7" },
      h("h4", {}, `Page path of visitor ${r.visitorId}`),
      path,
      conversions.length ? [h("h4", {}, "Conversions"), h("ul", {}, conversions)] : null,
      r.exit ? h("p", {}, `Left from ${r.exit.exitPage} at ${formatInstant(r.exit.timestamp, state.timeZone)}.`) : h("p", {}, "Still open."),
      [r.content && `Content: ${r.content}. `, r.term && `Term: ${r.term}.`].filter(Boolean).join("") || null
    )
  );
  return [row, details];
}

// --- wiring -----------------------------------------------------------------------------

function init() {
  const zones = timeZones(state.timeZone);
  $("time-zone").replaceChildren(...zones.map((z) => h("option", { value: z, selected: z === state.timeZone }, z)));
  applyPreset(state.preset);

  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => showSignIn(""));
  for (const button of document.querySelectorAll(".preset")) {
    button.addEventListener("click", () => {
      applyPreset(button.dataset.preset);
      if (button.dataset.preset === "custom") {
        $("start-date").focus();
        return;
      }
      state.sessionsPage = 1;
      readControls();
      loadAll();
    });
  }
  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    const problem = readControls();
    $("controls-error").textContent = problem;
    if (problem) return;
    state.sessionsPage = 1;
    state.openSession = null;
    loadAll();
  });
  // Changing the zone moves every day's bounds: all panels reload at once, so that they
  // never show two zones side by side.
  $("time-zone").addEventListener("change", () => {
    state.timeZone = $("time-zone").value;
    if (readControls()) return;
    state.sessionsPage = 1;
    loadAll();
  });
  $("clear-filters").addEventListener("click", () => {
    state.filters = {};
    state.conversion = {};
    writeFilterInputs();
    state.sessionsPage = 1;
    loadAll();
  });
  $("touch-scope").addEventListener("change", () => {
    state.touchScope = $("touch-scope").value;
    load("pages", loadPages);
  });
  $("attribution-dimension").addEventListener("change", () => {
    state.dimension = $("attribution-dimension").value;
    load("attribution", loadAttribution);
  });
  $("interval").addEventListener("change", () => {
    state.interval = $("interval").value;
    load("overview", loadOverview);
  });
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (lastSeries && !pending.has("overview") && lastSeries.series.buckets.length) {
        $("overview").querySelector(".body").replaceChildren(...renderOverview());
      }
    }, 150);
  });

  const stored = readStoredKey();
  if (!stored) {
    showSignIn("");
    return;
  }
  // A key from earlier in this tab: the panels load at once; a key that stopped working
  // sends the user back to sign in.
  state.apiKey = stored;
  showApp(null);
  graphql(stored, SITE_QUERY)
    .then((data) => showApp(data.site))
    .catch((err) => {
      if (err instanceof ApiError && err.unauthenticated) {
        showSignIn("Your API key is no longer accepted (it may have been renewed). Sign in again.");
      }
    });
  loadAll();
}

init();
