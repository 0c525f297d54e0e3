// Starts GraphiQL on the page GET /graphql serves (graphql_api/ide.py). React, ReactDOM
// and GraphiQL are the UMD builds served beside this file: nothing comes from elsewhere.
(function () {
  "use strict";

  // Queries go to the address the page came from: behind a proxy that mounts the
  // service under a prefix, that is still /graphql of this service.
  var url = window.location.origin + window.location.pathname;

  var HEADERS = JSON.stringify({ Authentication: "YOUR API KEY" }, null, 2);

  var QUERY = [
    "# AttributionHub GraphQL API",
    "#",
    "# Every request needs an API key: put yours in the",
    "# Headers tab below, in place of YOUR API KEY. The",
    "# docs and completion follow once the key is right.",
    "# Ctrl-Enter runs the query.",
    "",
    "{",
    "  site {",
    "    name",
    "  }",
    "}",
    "",
  ].join("\n");

  // How long the headers must stay unchanged before the schema is fetched again.
  var SETTLE_MS = 400;

  function newFetcher() {
    return GraphiQL.createFetcher({ url: url });
  }

  function Ide() {
    // The schema needs a key too: a new fetcher makes GraphiQL fetch it again with the
    // headers as they are now, so a key typed in brings the docs without a reload.
    var fetcherState = React.useState(newFetcher);
    var setFetcher = fetcherState[1];
    var timer = React.useRef(null);
    var lastHeaders = React.useRef(HEADERS);

    function onEditHeaders(text) {
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(function () {
        try {
          JSON.parse(text);
        } catch (notYetJson) {
          return;
        }
        if (text !== lastHeaders.current) {
          lastHeaders.current = text;
          setFetcher(newFetcher);
        }
      }, SETTLE_MS);
    }

    return React.createElement(GraphiQL, {
      fetcher: fetcherState[0],
      defaultQuery: QUERY,
      defaultHeaders: HEADERS,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      onEditHeaders: onEditHeaders,
      // Tabs, history and headers (the API key) live as long as the browser tab: a
      // reload keeps them, closing the tab forgets them. GraphiQL would keep them in
      // localStorage, for good, history's headers even with persistence off.
      storage: window.sessionStorage,
      shouldPersistHeaders: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Ide));
})();
