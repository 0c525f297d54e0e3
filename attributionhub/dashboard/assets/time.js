// Calendar days in a chosen IANA time zone, turned into the UTC instants the API takes.

export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function timeZones(current) {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    // An older browser: the browser's own zone and UTC are still offered.
  }
  return [...new Set(["UTC", current, ...zones])].sort((a, b) =>
    a === "UTC" ? -1 : b === "UTC" ? 1 : a.localeCompare(b)
  );
}

const partsFormats = new Map();

function wallClock(instantMs, timeZone) {
  let format = partsFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormats.set(timeZone, format);
  }
  const parts = {};
  for (const p of format.formatToParts(new Date(instantMs))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

function offsetMs(instantMs, timeZone) {
  const w = wallClock(instantMs, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

// The first instant of a calendar day in the zone. The zone's offset a day before and a
// day after midnight give the candidates (offsets change at most once in between); where
// midnight happens twice the earlier counts, where a DST gap skips it the day starts
// right after the gap.
const DAY_MS = 86_400_000;

export function startOfDay(isoDate, timeZone) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d);
  const candidates = [wall - offsetMs(wall - DAY_MS, timeZone), wall - offsetMs(wall + DAY_MS, timeZone)];
  const inDay = candidates.filter((t) => {
    const w = wallClock(t, timeZone);
    return w.year === y && w.month === m && w.day === d;
  });
  return Math.min(...(inDay.length ? inDay : candidates));
}

export function today(timeZone, nowMs = Date.now()) {
  const w = wallClock(nowMs, timeZone);
  return isoDay(w.year, w.month, w.day);
}

function isoDay(y, m, d) {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

export function addDays(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return isoDay(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

// The window's bounds for the API: the first instant of the first day and the last
// millisecond of the last day, both inclusive, in UTC.
export function windowBounds(firstDay, lastDay, timeZone) {
  const start = startOfDay(firstDay, timeZone);
  const end = startOfDay(addDays(lastDay, 1), timeZone) - 1;
  return { startDate: new Date(start).toISOString(), endDate: new Date(end).toISOString() };
}

export function presetDays(preset, timeZone, nowMs = Date.now()) {
  const last = today(timeZone, nowMs);
  const span = preset === "today" ? 1 : Number(preset);
  return { firstDay: addDays(last, 1 - span), lastDay: last };
}

export function formatInstant(iso, timeZone, withTime = true) {
  const options = { timeZone, year: "numeric", month: "short", day: "numeric" };
  if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
}

export function formatBucket(iso, interval, timeZone) {
  const options = { timeZone };
  if (interval === "HOUR") Object.assign(options, { month: "short", day: "numeric", hour: "2-digit", hourCycle: "h23" });
  else if (interval === "MONTH") Object.assign(options, { year: "numeric", month: "short" });
  else Object.assign(options, { month: "short", day: "numeric" });
  return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "open";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s} s`;
  return `${s} s`;
}
