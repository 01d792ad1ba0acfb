"""The demo's closing printout: unit economics per segment and the quality gate's summary."""

from __future__ import annotations

import duckdb

from funnelhouse.settings import Paths

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


def _format(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return str(value)


def format_table(columns: list[str], rows: list[tuple[object, ...]]) -> str:
    cells = [columns, *[[_format(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_report(paths: Paths) -> None:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        cursor = con.execute(UNIT_ECONOMICS_BY_SEGMENT)
        columns = [d[0] for d in cursor.description]
        rows = [
            tuple(float(v) if hasattr(v, "as_tuple") else v for v in row)
            for row in cursor.fetchall()
        ]
    print("\nUnit economics per segment, all cohort months (RUB)")
    print(format_table(columns, rows))
    print(f"\nWarehouse: {paths.warehouse}  (BI reads schema 'marts')")
