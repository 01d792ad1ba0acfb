"""The demo's closing printout: unit economics, top drop-off reasons, the quality gate."""

from __future__ import annotations

import duckdb

from funnelhouse.publish import CURRENT, current_database, current_publication, publish_root
from funnelhouse.settings import Paths, reporting_currency

# Totals over all cohort months of each segment's all-channel roll-up; ratios recomputed.
UNIT_ECONOMICS_BY_SEGMENT = """
select
    segment,
    sum(leads) as leads,
    sum(spend) as spend,
    sum(spend) / nullif(sum(leads), 0) as cpl,
    sum(won_deals) as won_deals,
    sum(revenue) as revenue,
    (sum(spend) + sum(other_costs)) / nullif(sum(won_leads), 0) as cac
from marts.mart_unit_economics
where channel = 'all'
group by segment
order by segment = 'all', revenue desc nulls last, segment
"""


# Each channel over all segments and cohort months: where the ad money went and what it
# brought; spend is every platform's cost converted into the reporting currency.
UNIT_ECONOMICS_BY_CHANNEL = """
select
    channel,
    sum(leads) as leads,
    sum(spend) as spend,
    sum(spend) / nullif(sum(leads), 0) as cpl,
    sum(won_leads) as won_leads,
    sum(revenue) as revenue
from marts.mart_unit_economics
where segment = 'all'
group by channel
order by channel = 'all', spend desc nulls last, channel
"""

# The three most frequent reasons at each stage, with their share of the stage's losses.
TOP_DROPOFF_REASONS = """
with by_reason as (
    select funnel_stage, reason, sum(lost_deals) as lost_deals
    from marts.mart_dropoffs
    group by funnel_stage, reason
),
ranked as (
    select
        funnel_stage,
        reason,
        lost_deals,
        lost_deals / sum(lost_deals) over (partition by funnel_stage) as share,
        row_number() over (partition by funnel_stage order by lost_deals desc, reason) as rank
    from by_reason
)
select ranked.funnel_stage as stage, reason, lost_deals, round(100 * share, 1) as "share_%"
from ranked
join (select distinct funnel_stage, stage_order from marts.mart_funnel_conversion) as stages
    on stages.funnel_stage = ranked.funnel_stage
where rank <= 3
order by stages.stage_order, rank
"""


def _format(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return str(value)


def format_table(columns: list[str], rows: list[tuple[object, ...]]) -> str:
    """A plain-text table: text columns left-aligned, numbers right-aligned."""
    text_columns = {i for i, v in enumerate(rows[0]) if isinstance(v, str)} if rows else set()
    cells = [columns, *[[_format(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            c.ljust(w) if i in text_columns else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    # Money comes back as Decimal; the printout shows whole roubles.
    rows = [tuple(float(v) if hasattr(v, "as_tuple") else v for v in r) for r in cursor.fetchall()]
    return columns, rows


def print_report(paths: Paths) -> None:
    """Print what BI reads: the published marts when there are any, else the warehouse."""
    published = current_database(publish_root(paths.warehouse))
    database = published if published.exists() else paths.warehouse
    with duckdb.connect(str(database), read_only=True) as con:
        economics = _query(con, UNIT_ECONOMICS_BY_SEGMENT)
        channels = _query(con, UNIT_ECONOMICS_BY_CHANNEL)
        dropoffs = _query(con, TOP_DROPOFF_REASONS)
    currency = reporting_currency()
    print(f"\nUnit economics per segment, all cohort months ({currency}) — from {database}")
    print(format_table(*economics))
    print(f"\nPer channel, all segments and cohort months ({currency}; spend converted at the")
    print("CBR rate of each report day)")
    print(format_table(*channels))
    print("\nTop drop-off reasons per stage (lost deals, all cohorts, segments and channels)")
    print(format_table(*dropoffs))
    print(gate_summary(paths))
    print(publication_summary(paths))
    print(f"\nWarehouse (the nightly's working file): {paths.warehouse}")


def gate_summary(paths: Paths) -> str:
    """The latest gate run: counts, each warning and failure, where its Data Docs are."""
    from expectations.gate import latest_recorded_result

    result = latest_recorded_result(paths.warehouse)
    if result is None:
        return "\nQuality gate: no run recorded yet"
    summary = result.summary()
    lines = ["", summary[:1].upper() + summary[1:]]
    lines += [f"  {row.describe()}" for row in (*result.failures, *result.warnings)]
    lines.append(f"  Data Docs: {result.data_docs}")
    return "\n".join(lines)


def publication_summary(paths: Paths) -> str:
    """What BI reads now (see funnelhouse/publish.py)."""
    root = publish_root(paths.warehouse)
    publication = current_publication(root)
    if publication is None:
        return f"\nNothing published yet under {root}"
    marts_of = publication.marts_run_id or "no run (none passed the gate yet)"
    return (
        f"\nBI reads {current_database(root)} (schema marts), or the Parquet files in "
        f"{root / CURRENT / 'parquet'}\n"
        f"  latest run {publication.run_id}: {publication.status}; business marts of {marts_of}"
    )
