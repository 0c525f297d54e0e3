"""The driving side's shared web code: what the REST face (``rest_compat``) and the GraphQL
face (``graphql_api``) both need from aiohttp, kept once so that the two cannot drift.

- ``credentials``: reading an API key or a tracker token from a request;
- ``authentication``: the one path that authenticates a request and counts it against
  the rate limit (one 401 text for both faces);
- ``bodies``: reading a request body within a time limit and a cap on unfinished bodies,
  and decoding it as JSON with errors that say what is wrong;
- ``access_log``: one access log line per request, with a request id;
- ``cors``: which browser origins may call both faces (``ATTRIBUTIONHUB_CORS_ORIGINS``);
- ``server``: JSON answers to what aiohttp's HTTP parser refuses before any middleware;
- ``errors`` and ``request_keys``: the error type and the typed keys both faces share.

Neither face imports the other; both import this package (import-linter checks it).
"""
