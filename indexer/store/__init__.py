"""Persistence by entity: the tables (``models``), one module per entity owning its reads, writes and order
(``wallet_store``, ``position_store``, ``feed_store``, ``alert_store`` with ``outbox`` for the delivery claim,
``chain_store`` with ``reorg`` and ``retention``), the block writer, the dashboard's ``summary``, engines and
migrations (``db``). Every argument after the engine is keyword-only. The store imports neither alerts nor
protocols. Import the module you need: this package imports none of them, so a short command loads only its own
(``position_store`` reads through ``read_tables``, without the declarative models)."""
