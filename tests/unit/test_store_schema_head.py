"""``SCHEMA_HEAD`` (what start-up checks a database against without loading Alembic) is the migrations' head."""

from indexer.store.db import SCHEMA_HEAD, head_revision


def test_schema_head_is_the_newest_migration():
    assert head_revision() == SCHEMA_HEAD, "a migration was added: set indexer.store.db.SCHEMA_HEAD to its revision"
