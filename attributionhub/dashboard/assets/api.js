// The one way this page talks to the service: POST /graphql on its own origin, with the
// API key in the Authentication header (docs/decisions.md, "GraphQL").

export class ApiError extends Error {
  constructor(message, { unauthenticated = false } = {}) {
    super(message);
    this.unauthenticated = unauthenticated;
  }
}

export const WRONG_KEY =
  "That API key was not accepted. Check that you copied the whole key (keys are " +
  "renewed by 'attributionhub sites rotate-keys').";

// The service names a bad argument by its GraphQL path (`filter.landingPage: expected an
// absolute http or https URL, got 'foo'`); the page names it by the label of its field.
const LABELS = {
  startDate: "From",
  endDate: "To",
  source: "Source",
  medium: "Medium",
  campaign: "Campaign",
  content: "Content",
  term: "Term",
  landingPage: "Landing page",
  conversionPage: "Conversion page",
  metaType: "Meta type",
  metaId: "Meta id",
  timeZone: "Time zone",
  interval: "Chart by",
  touchScope: "Touch scope",
  dimension: "Credit to",
};

function inWords(error) {
  const argument = error.extensions && error.extensions.argument;
  const message = String(error.message);
  if (!argument || !message.startsWith(`${argument}: `)) return message;
  const name = argument.split(".").pop();
  return `${LABELS[name] || name}: ${message.slice(argument.length + 2)}`;
}

export async function graphql(apiKey, query, variables = {}, signal = undefined) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authentication: apiKey },
      body: JSON.stringify({ query, variables }),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError("The service could not be reached. Is it running? (" + err.message + ")");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Handled below: a body that is not JSON is described by its status.
  }
  if (response.status === 401) throw new ApiError(WRONG_KEY, { unauthenticated: true });
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After");
    throw new ApiError(
      "Too many requests for this site right now" + (wait ? `; try again in ${wait} s.` : ".")
    );
  }
  const errors = body && Array.isArray(body.errors) ? body.errors : [];
  if (errors.length) {
    const words = [...new Set(errors.map(inWords))].join(" ");
    throw new ApiError(
      response.ok ? words : `The service answered ${response.status}: ${words}`
    );
  }
  if (!response.ok || !body || !body.data) {
    throw new ApiError(`The service answered ${response.status} ${response.statusText}.`);
  }
  return body.data;
}

const FRAME = "timeFrame { start end }";

export const SITE_QUERY = "query Site { site { id name } }";

export const TIMESERIES_QUERY = `query Timeseries($filter: AggregateFilter, $interval: Interval, $timeZone: String) {
  timeseries(filter: $filter, interval: $interval, timeZone: $timeZone) {
    ${FRAME} buckets { start sessions users conversions convertingSessions }
  }
}`;

export const BREAKDOWN_DIMENSIONS = [
  { by: "CHANNEL", title: "Channel", filter: null },
  { by: "SOURCE", title: "Source", filter: "source" },
  { by: "MEDIUM", title: "Medium", filter: "medium" },
  { by: "CAMPAIGN", title: "Campaign", filter: "campaign" },
  { by: "LANDING_PAGE", title: "Landing page", filter: "landingPage" },
];

const ROW = "totalRows rows { value sessions users conversions convertingSessions conversionRate }";

// One request for the five: one snapshot, so they add up to the same sessions.
export const BREAKDOWN_QUERY = `query Breakdowns($filter: AggregateFilter, $limit: Int) {
${BREAKDOWN_DIMENSIONS.map(
  (d) => `  ${d.by.toLowerCase()}: breakdown(filter: $filter, by: ${d.by}, limit: $limit) { ${FRAME} ${ROW} }`
).join("\n")}
}`;

const ROLE = "{ sessions users }";

export const PAGES_QUERY = `query Pages($filter: PageFilter, $limit: Int) {
  pages(filter: $filter) {
    ${FRAME}
    summaryTotals { totalSessions totalUsers totalConversionEvents totalConversionUsers }
    conversionPerformance(limit: $limit) {
      url conversion ${ROLE} conversionAssist ${ROLE} landingAssistedConversion ${ROLE}
    }
    dropOffPerformance(limit: $limit) {
      url dropOff ${ROLE} dropOffAssist ${ROLE} landingAssistedDropOff ${ROLE}
    }
  }
}`;

export const ATTRIBUTION_QUERY = `query Attribution($filter: AttributionFilter) {
  attribution(filter: $filter) {
    ${FRAME} lookbackDays dimension models
    summaryTotals { conversions convertingUsers revenue averagePathLength nonConvertingPaths }
    rows { value touches credits { model conversions revenue } }
    topPaths { path conversions revenue }
  }
}`;

export const SESSIONS_QUERY = `query Sessions($filter: SessionFilter, $page: Int, $pageSize: Int) {
  sessions(filter: $filter, page: $page, pageSize: $pageSize) {
    records {
      id visitorId timestamp source medium campaign content term landingPage duration
      conversions { eventId email timestamp conversionPage previousPage metaType metaId value }
      exit { exitPage previousPage timestamp }
      pages { url timestamp }
    }
    pagination { currentPage totalPages totalRecords pageSize }
  }
}`;
