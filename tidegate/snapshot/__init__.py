"""What gateways are fed, put together from every app: the snapshot built from the database
(``builder``), the endpoint gateways pull it from (``apis``), and standalone mode's reading
of API project archives (``archives``). It sits with the site, above the domain apps it
reads; gateway_sync, below them, keeps the configuration versions, deltas and gateways'
reports it serves (docs/architecture.md, Layers)."""
