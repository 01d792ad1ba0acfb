"""The gate reads each intermediate model it checks that is a view once per run, into a
temp table on its read-only connection; tables it reads in place. Small warehouses of the
test's own, no pipeline."""

from pathlib import Path

import duckdb
import pytest

from expectations.staging import AD_SPEND, DEALS, INPUT_SCHEMA, LEADS, read_inputs_once

# A view whose rows change at every read: equal reads mean it was computed once.
RANDOM_ROWS = "SELECT random() AS drawn FROM range(3)"


def _warehouse(path: Path, *statements: str) -> Path:
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)
    return path


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _temp_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    temporary = _rows(con, "SELECT table_name FROM duckdb_tables() WHERE temporary")
    return {name for (name,) in temporary}


def test_a_view_is_computed_once_and_a_table_is_read_in_place(tmp_path: Path) -> None:
    warehouse = _warehouse(
        tmp_path / "warehouse.duckdb",
        f"CREATE SCHEMA {INPUT_SCHEMA}",
        f"CREATE VIEW {INPUT_SCHEMA}.{DEALS} AS {RANDOM_ROWS}",
        f"CREATE TABLE {INPUT_SCHEMA}.{LEADS} AS SELECT 'amocrm:' || range AS lead_id "
        "FROM range(4)",
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert _rows(con, f"{RANDOM_ROWS} UNION ALL {RANDOM_ROWS}") != _rows(
            con, f"{RANDOM_ROWS} UNION ALL {RANDOM_ROWS}"
        )  # the trick works: without the copy, every read draws anew
        read_inputs_once(con)

        first_read = _rows(con, f"SELECT drawn FROM {DEALS} ORDER BY ALL")
        assert len(first_read) == 3
        assert _rows(con, f"SELECT drawn FROM {DEALS} ORDER BY ALL") == first_read
        assert _temp_tables(con) == {DEALS}
        assert _rows(con, f"SELECT count(*) FROM {LEADS}") == [(4,)]


def test_a_view_that_cannot_be_computed_is_left_for_its_checks_to_fail_naming_it(
    tmp_path: Path,
) -> None:
    warehouse = _warehouse(
        tmp_path / "warehouse.duckdb",
        f"CREATE SCHEMA {INPUT_SCHEMA}",
        "CREATE TABLE main.campaign_stats AS SELECT 1 AS cost",
        f"CREATE VIEW {INPUT_SCHEMA}.{AD_SPEND} AS SELECT cost FROM main.campaign_stats",
        "DROP TABLE main.campaign_stats",
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        read_inputs_once(con)

        assert _temp_tables(con) == set()
        with pytest.raises(duckdb.CatalogException, match="campaign_stats does not exist"):
            con.execute(f"SELECT count(*) FROM {AD_SPEND}")
        with pytest.raises(duckdb.CatalogException, match=f"{LEADS} does not exist"):
            con.execute(f"SELECT count(*) FROM {LEADS}")


def test_a_warehouse_without_the_models_schema_leaves_every_input_missing(
    tmp_path: Path,
) -> None:
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", "CREATE TABLE nothing (id INTEGER)")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        read_inputs_once(con)

        with pytest.raises(duckdb.CatalogException, match=f"{DEALS} does not exist"):
            con.execute(f"SELECT count(*) FROM {DEALS}")
