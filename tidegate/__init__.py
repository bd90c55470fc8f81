"""The site: what puts the Django apps together. The URLconf, the ASGI entry point, the
OpenAPI document, the home and sign-up pages, user administration and the process commands
(``runall``, ``purge_expired``). It sits above every app and nothing imports it
(docs/architecture.md)."""
