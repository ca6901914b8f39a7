"""Write transactions: nesting joins the outer one, and a failed inner step undoes only itself."""

from __future__ import annotations

import pytest

from storage.db import Database


def _keys(db: Database) -> list[str]:
    return [k for (k,) in db.conn.execute("SELECT key FROM meta WHERE key LIKE 't%' ORDER BY key")]


def test_a_failed_nested_step_is_undone_and_the_outer_transaction_still_commits(fresh_db):
    with fresh_db.write() as conn:
        conn.execute("INSERT INTO meta VALUES ('t1', 'kept')")
        with pytest.raises(RuntimeError), fresh_db.write() as inner:
            inner.execute("INSERT INTO meta VALUES ('t2', 'undone')")
            raise RuntimeError("inner step fails")
        conn.execute("INSERT INTO meta VALUES ('t3', 'kept')")
    assert _keys(fresh_db) == ["t1", "t3"]
    assert not fresh_db.conn.in_transaction


def test_a_nested_step_that_succeeds_commits_with_the_outer_one_or_not_at_all(fresh_db):
    with pytest.raises(RuntimeError), fresh_db.write() as conn:
        with fresh_db.write() as inner:
            inner.execute("INSERT INTO meta VALUES ('t1', 'nested')")
        conn.execute("INSERT INTO meta VALUES ('t2', 'outer')")
        raise RuntimeError("outer fails after the nested step")
    assert _keys(fresh_db) == []
    with fresh_db.write(), fresh_db.write() as inner:
        inner.execute("INSERT INTO meta VALUES ('t1', 'nested')")
    assert _keys(fresh_db) == ["t1"]
