"""Benchmark of the warehouse side at scale: phone validation, dbt build, quality gate.

Lands N synthetic amoCRM leads (with contacts, phones and status changes) and half a year
of Yandex Direct rows for M campaigns as raw Parquet, shaped like the extractors' files, then
times each step and prints rows per second and peak memory. Figures, not assertions:

    .venv/bin/python benchmarks/bench_warehouse.py --leads 1000000 --campaigns 300
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from expectations.gate import QualityGateFailed, run_quality_gate
from funnelhouse.dbt import run_dbt
from funnelhouse.phones import refresh_phone_numbers
from funnelhouse.settings import DBT_PROJECT_DIR, Paths

RUN = "bench"
EXTRACTED_AT = "timestamptz '2026-07-01 00:00:00+00'"
LOAD_METADATA = f"'{{source}}' as _source, {EXTRACTED_AT} as _extracted_at, '{RUN}' as _run_id"


def _amocrm_stages() -> list[tuple[int, int]]:
    """The (pipeline_id, status_id) pairs the shipped stage mapping knows for amoCRM."""
    with (DBT_PROJECT_DIR / "seeds" / "stage_mapping.csv").open(encoding="utf-8") as seed:
        return [
            (int(row["pipeline_id"]), int(row["status_id"]))
            for row in csv.DictReader(seed)
            if row["source"] == "amocrm"
        ]


def land_raw(raw_dir: Path, leads: int, campaigns: int) -> None:
    """Write the raw Parquet files with DuckDB: no Python loop over rows."""
    stages = _amocrm_stages()
    meta = LOAD_METADATA.format(source="amocrm")
    statements = {
        "leads": f"""
            select
                i as lead_id, (30000 + hash(i) % 700000)::bigint as price,
                s.pipeline_id, s.status_id, null::bigint as loss_reason_id,
                timestamptz '2026-01-01 06:00:00+00' + to_seconds(hash(i) % 15552000)
                    as created_at,
                created_at + interval 2 day as updated_at,
                null::timestamptz as closed_at, false as is_deleted,
                [{{'contact_id': i, 'is_main': true}}] as contacts,
                [
                    {{'field_id': 1::bigint, 'field_code': 'UTM_SOURCE',
                      'field_name': 'utm_source',
                      'values': [case when i % 3 = 0 then null else 'yandex' end]}},
                    {{'field_id': 2::bigint, 'field_code': 'UTM_CAMPAIGN',
                      'field_name': 'utm_campaign',
                      'values': [(70000001 + i % {campaigns})::varchar]}},
                    {{'field_id': 3::bigint, 'field_code': null::varchar,
                      'field_name': 'Тип клиента',
                      'values': [['Дилер', 'Застройщик', 'Частный покупатель'][1 + i % 3]]}}
                ] as custom_fields,
                {meta}, '{{}}' as _payload
            from range({leads}) as t(i)
            join (select unnest(?) as stage, generate_subscripts(?, 1) - 1 as n) as st
                on st.n = i % {len(stages)}
            cross join lateral (
                select st.stage[1]::bigint as pipeline_id, st.stage[2]::bigint as status_id
            ) as s
        """,
        "contacts": f"""
            select
                i as contact_id, timestamptz '2026-01-01 06:00:00+00' as created_at,
                timestamptz '2026-01-02 06:00:00+00' as updated_at, false as is_deleted,
                [{{'value': case when i % 5 = 0 then '8 (000) ' || i
                                 else '+7 912 ' || lpad((i % 10000000)::varchar, 7, '0') end,
                   'enum_code': 'WORK'}}] as phones,
                {meta}, '{{}}' as _payload
            from range({leads}) as t(i)
        """,
        "status_changes": f"""
            select
                'ev' || i as event_id, i as lead_id,
                timestamptz '2026-07-01 00:00:00+00' - interval 1 day as created_at,
                null::bigint as pipeline_id_before, null::bigint as status_id_before,
                null::bigint as pipeline_id_after, null::bigint as status_id_after,
                {meta}, '{{}}' as _payload
            from range(0) as t(i)
        """,
    }
    for entity, sql in statements.items():
        target = raw_dir / "amocrm" / entity / RUN
        target.mkdir(parents=True, exist_ok=True)
        params = [[list(s) for s in stages]] * 2 if entity == "leads" else []
        with duckdb.connect() as con:
            con.execute(f"copy ({sql}) to '{target / 'part-00001.parquet'}'", params)
    ads = raw_dir / "yandex_direct" / "campaign_stats" / RUN
    ads.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"""
            copy (
                select
                    'bench-ads' as account, day::date as date, 70000001 + c as campaign_id,
                    'campaign ' || c as campaign_name, 1000::bigint as impressions,
                    40::bigint as clicks, (1234.5 + c)::decimal(18, 6) as cost,
                    'RUB' as currency, 'Europe/Moscow' as time_zone, false as includes_vat,
                    {LOAD_METADATA.format(source="yandex_direct")}, '' as _payload
                from range({campaigns}) as t(c),
                    range(date '2026-01-01', date '2026-07-01', interval 1 day) as d(day)
            ) to '{ads / "part-00001.parquet"}'
        """)


def timed(label: str, rows: int, step: Callable[[], object]) -> None:
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{label:<22} {seconds:8.1f} s  {rows / seconds:12,.0f} rows/s  "
        f"peak RSS: this process {own:,.0f} MiB, child processes {children:,.0f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--campaigns", type=int, default=100)
    args = parser.parse_args()
    ad_rows = args.campaigns * 181  # 2026-01-01 .. 2026-06-30
    with tempfile.TemporaryDirectory(prefix="funnelhouse-bench-") as tmp:
        paths = Paths(Path(tmp) / "bench.duckdb", Path(tmp) / "raw", Path(tmp) / "unused")
        print(f"{args.leads:,} leads, {ad_rows:,} ad rows in {tmp}")
        timed(
            "land raw Parquet",
            args.leads,
            lambda: land_raw(paths.raw_dir, args.leads, args.campaigns),
        )
        timed(
            "validate phones",
            args.leads,
            lambda: refresh_phone_numbers(paths.warehouse, paths.raw_dir),
        )
        timed("dbt build", args.leads, lambda: run_dbt(["build"], paths, Path(tmp) / "target"))

        def gate() -> None:
            try:
                print(run_quality_gate(paths.warehouse, RUN, raw_dir=paths.raw_dir).summary())
            except QualityGateFailed as failed:  # synthetic data trips some checks: fine here
                print(failed.result.summary())

        timed("quality gate", args.leads, gate)


if __name__ == "__main__":
    main()
