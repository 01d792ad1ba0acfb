"""Marts suite: the business marts BI reads, against the staging models they come from.

The grain of every mart is the one ../shared/METRICS.md gives; a mart in schema `marts`
without a grain here fails `mart_grain_unique`, so a new mart cannot skip the check.
"""

import duckdb
import pandas as pd

from expectations.checks import Bound, Check, Layer, MeasureContext, sql_measure
from expectations.staging import AD_SPEND, LIVE_DEALS, LIVE_LEADS

MARTS_SCHEMA = "marts"
UNIT_ECONOMICS = f"{MARTS_SCHEMA}.mart_unit_economics"
# Published after every run by funnelhouse/publish.py, never built in the warehouse.
DATA_QUALITY_MART = "mart_data_quality"
MART_GRAINS: dict[str, tuple[str, ...]] = {
    "mart_unit_economics": ("cohort_month", "segment", "channel"),
    "mart_funnel_conversion": ("cohort_month", "segment", "channel", "funnel_stage"),
    "mart_dropoffs": ("cohort_month", "segment", "channel", "funnel_stage", "reason"),
    "mart_lead_quality": ("cohort_month", "channel", "rule"),
    "mart_leads": ("lead_id",),
}
SAMPLE_SIZE = 5


def business_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the tables and views in schema marts that BI reads, sorted."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name <> ? ORDER BY table_name",
        [MARTS_SCHEMA, DATA_QUALITY_MART],
    ).fetchall()
    return [name for (name,) in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _grain_repeats(con: duckdb.DuckDBPyConnection, mart: str) -> dict[str, object]:
    if mart not in MART_GRAINS:
        return {
            "observed_value": None,
            "problem": f"no grain declared for {mart} in expectations/marts.py",
        }
    grain = ", ".join(_quoted(column) for column in MART_GRAINS[mart])
    extra, repeated, sample = con.execute(
        f"""
        WITH repeated AS (
            SELECT concat_ws('|', {grain}) AS grain_key, count(*) - 1 AS extra_rows
            FROM {MARTS_SCHEMA}.{_quoted(mart)}
            GROUP BY ALL HAVING count(*) > 1
        )
        SELECT coalesce(sum(extra_rows), 0), count(*),
            (SELECT string_agg(grain_key, ' ') FROM
                (SELECT grain_key FROM repeated ORDER BY grain_key LIMIT {SAMPLE_SIZE}))
        FROM repeated
        """
    ).fetchone() or (0, 0, None)
    return {"observed_value": float(extra), "repeated_keys": repeated, "sample": sample}


def _measure_grains(con: duckdb.DuckDBPyConnection, context: MeasureContext) -> pd.DataFrame:
    marts = business_marts(con)
    if not marts:
        return pd.DataFrame(
            [{"scope": "all", "observed_value": None, "problem": "schema marts has no mart"}]
        )
    return pd.DataFrame([{"scope": mart, **_grain_repeats(con, mart)} for mart in marts])


# Each pair: the total over the mart's detail rows, and the same total from staging.
_RECONCILED = {
    "leads": ("sum(leads)", f"(SELECT count(*) FROM {LIVE_LEADS})"),
    "won_deals": (
        "sum(won_deals)",
        f"(SELECT count(*) FROM {LIVE_DEALS} WHERE status = 'won')",
    ),
    "revenue": (
        "sum(revenue)",
        f"(SELECT sum(amount_reporting) FROM {LIVE_DEALS} WHERE status = 'won')",
    ),
    "spend": ("sum(spend)", f"(SELECT sum(spend) FROM {AD_SPEND})"),
    "other_costs": ("sum(other_costs)", "(SELECT sum(amount) FROM seeds.other_costs)"),
}
_RECONCILIATION_SQL = "\nUNION ALL\n".join(
    f"""
    SELECT 'mart_unit_economics.{measure}' AS scope,
        abs(coalesce(in_mart, 0) - coalesce(in_staging, 0))
            / greatest(abs(coalesce(in_staging, 0)), 1) AS observed_value,
        in_mart, in_staging
    FROM (
        SELECT CAST({mart_sum} AS DOUBLE) AS in_mart, CAST({staging_sum} AS DOUBLE) AS in_staging
        FROM {UNIT_ECONOMICS} WHERE segment <> 'all' AND channel <> 'all'
    )
    """
    for measure, (mart_sum, staging_sum) in _RECONCILED.items()
)

CHECKS: tuple[Check, ...] = (
    Check(
        name="mart_reconciliation",
        layer=Layer.MARTS,
        bound=Bound.MAX,
        description=(
            "relative difference between a total over mart_unit_economics detail rows "
            "and the same total from the staging models (per measure)"
        ),
        measure=sql_measure(_RECONCILIATION_SQL),
    ),
    Check(
        name="mart_negative_spend",
        layer=Layer.MARTS,
        bound=Bound.MAX,
        description="rows of mart_unit_economics with negative spend or other costs",
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value,
                (SELECT string_agg(cell, ' ') FROM (
                    SELECT concat_ws('|', cohort_month, segment, channel) AS cell
                    FROM {UNIT_ECONOMICS} WHERE spend < 0 OR other_costs < 0
                    ORDER BY cell LIMIT {SAMPLE_SIZE})) AS sample
            FROM {UNIT_ECONOMICS} WHERE spend < 0 OR other_costs < 0
            """
        ),
    ),
    Check(
        name="mart_grain_unique",
        layer=Layer.MARTS,
        bound=Bound.MAX,
        description="rows beyond the first per grain, for every business mart",
        measure=_measure_grains,
    ),
)
