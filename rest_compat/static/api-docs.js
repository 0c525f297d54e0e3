// Starts Swagger UI on /api/docs (rest_compat/openapi.py). A file of its own, not an
// inline script, so that the page's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The default sends the document to an online validator for a badge: nothing is to
    // leave the service.
    validatorUrl: null,
  });
})();
