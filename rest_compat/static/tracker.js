/*! AttributionHub tracker: no dependencies, no cookies sent to third parties.
 *
 * <script async src="https://YOUR-HOST/tracker.js" data-token="aht_..."></script>
 *
 * Sends a pageview on load and on single-page-app navigation, an exit when the page is
 * hidden, and a conversion when a form with an email field is submitted (html_form), when
 * a HubSpot form reports a submission (hubspot_form), or when the page calls
 * window.attributionhub.conversion({email, meta_id, value}) (custom; value: what the
 * conversion was worth, a number >= 0 in the site's currency).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.attributionhub) return;
  var token = script.getAttribute("data-token");
  if (!token) return;
  var endpoint = new URL("/collect", script.src).href + "?token=" + encodeURIComponent(token);
  var KEY = "attributionhub_vid";

  function visitorId() {
    var id = null;
    try { id = window.localStorage.getItem(KEY); } catch (e) { /* storage may be blocked */ }
    if (!id) {
      var match = document.cookie.match(/(?:^|; )attributionhub_vid=([^;]+)/);
      id = match ? decodeURIComponent(match[1]) : null;
    }
    if (!id) {
      id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
        : "v-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
    }
    try { window.localStorage.setItem(KEY, id); } catch (e) { /* fall back to the cookie */ }
    document.cookie = KEY + "=" + encodeURIComponent(id) + "; path=/; max-age=63072000; SameSite=Lax";
    return id;
  }

  var vid = visitorId();

  function send(event, beacon) {
    event.visitor_id = vid;
    event.user_agent = navigator.userAgent;
    // text/plain keeps the request "simple": no CORS preflight, and sendBeacon allows it.
    var body = JSON.stringify(event);
    if (beacon && navigator.sendBeacon) {
      navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }));
      return;
    }
    try {
      fetch(endpoint, { method: "POST", body: body, keepalive: true,
                        headers: { "Content-Type": "text/plain" } });
    } catch (e) { /* tracking never breaks the page */ }
  }

  var lastUrl = null;
  var lastReferrer = document.referrer || null;

  function pageview() {
    var url = window.location.href;
    if (url === lastUrl) return;
    send({ type: "pageview", url: url, referrer: lastUrl === null ? lastReferrer : lastUrl });
    lastUrl = url;
  }

  function exit() {
    send({ type: "exit", url: window.location.href }, true);
  }

  function conversion(metaType, details) {
    details = details || {};
    var event = { type: "conversion", url: window.location.href, meta_type: metaType };
    if (details.email) event.email = String(details.email);
    if (details.meta_id) event.meta_id = String(details.meta_id);
    if (details.value !== undefined && details.value !== null) {
      var value = Number(details.value);
      // An unusable value is left out rather than sent: the server would reject the
      // whole event, and the conversion itself is worth keeping.
      if (isFinite(value) && value >= 0) event.value = value;
      else if (window.console) console.warn("attributionhub: ignored conversion value", details.value);
    }
    send(event, true);
  }

  // Single-page apps: history navigation is a new pageview, with the old URL as referrer.
  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      setTimeout(pageview, 0);
      return result;
    };
  });
  window.addEventListener("popstate", pageview);
  // Back/forward restores a cached page without running scripts again; to the visitor it
  // is a page load all the same, and its hide already sent an exit.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    lastUrl = null;
    pageview();
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") exit();
  });

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || form.tagName !== "FORM") return;
    var field = form.querySelector("input[type=email], input[name=email]");
    if (!field || !field.value) return;
    // getAttribute, not form.id: a field named "id" (or "name") shadows those properties.
    conversion("html_form", { email: field.value,
                              meta_id: form.getAttribute("id") || form.getAttribute("name") || null });
  }, true);

  // HubSpot embedded forms post a message when a form was submitted.
  window.addEventListener("message", function (e) {
    var data = e.data;
    if (!data || data.type !== "hsFormCallback" || data.eventName !== "onFormSubmitted") return;
    var email = null;
    var submission = (data.data && data.data.submissionValues) || {};
    if (submission.email) email = submission.email;
    conversion("hubspot_form", { email: email, meta_id: data.id || null });
  });

  window.attributionhub = {
    conversion: function (details) { conversion("custom", details); },
    pageview: pageview,
    visitorId: function () { return vid; }
  };

  pageview();
})();
