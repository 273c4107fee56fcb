"""The dashboard's detail pages: one position, one wallet, one market. Server-rendered HTML under the dashboard's
CSP (no script, no external asset), charts as inline SVG (``indexer.api.charts``)."""
