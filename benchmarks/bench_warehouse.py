"""Benchmark of the warehouse side at scale: phone validation, dbt build, quality gate.

Lands N synthetic amoCRM leads (with contacts, phones and status changes), half a year of
campaign-day rows of Yandex Direct (RUB), Google Ads (USD) and Meta Ads (EUR), and the
CBR's daily rates of that half year (USD, EUR, KZT per 100), as raw Parquet shaped like the
extractors' files, so the dbt build converts every ad row into roubles. Then times each
step and prints rows per second, peak memory, dbt's slowest nodes and the conversion
rebuilt on its own. Figures, not assertions:

    .venv/bin/python benchmarks/bench_warehouse.py --leads 200000 --ad-rows 5000000
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from expectations.gate import QualityGateFailed, run_quality_gate
from extract.schemas import SCHEMAS
from funnelhouse.dbt import run_dbt
from funnelhouse.phones import refresh_phone_numbers
from funnelhouse.settings import DBT_PROJECT_DIR, Paths

RUN = "bench"
EXTRACTED_AT = "timestamptz '2026-07-01 00:00:00+00'"
LOAD_METADATA = f"'{{source}}' as _source, {EXTRACTED_AT} as _extracted_at, '{RUN}' as _run_id"
FIRST_AD_DAY, END_AD_DAY = date(2026, 1, 1), date(2026, 7, 1)  # half a year, end exclusive
AD_DAYS = (END_AD_DAY - FIRST_AD_DAY).days
# The first CBR publication the rates cover: the Tuesday before the first ad day.
FIRST_RATE_DAY = date(2025, 12, 30)
SLOWEST_NODES = 12
# The ad spend's conversion into roubles (the conformed models are views: their work is
# done inside int_ad_spend_converted).
CONVERSION_MODELS = ("int_currency_rates_ranged", "int_ad_spend_converted")


@dataclass(frozen=True)
class AdPlatform:
    """One platform's synthetic account: campaign c's id is `campaign_id` with c bound."""

    source: str
    account: str
    campaign_id: str  # SQL expression of the campaign number c
    currency: str
    time_zone: str
    utm_source: str  # what a lead's link says (seed ad_platform_aliases)


AD_PLATFORMS = (
    AdPlatform("yandex_direct", "bench-ads", "70000001 + c", "RUB", "Europe/Moscow", "yandex"),
    AdPlatform("google_ads", "4561237890", "21450000001 + c", "USD", "America/New_York", "google"),
    AdPlatform(
        "meta_ads",
        "1029384756123",
        "(120210000000000001 + c)::varchar",
        "EUR",
        "Europe/Berlin",
        "facebook",
    ),
)


def _amocrm_stages() -> list[tuple[int, int]]:
    """The (pipeline_id, status_id) pairs the shipped stage mapping knows for amoCRM."""
    with (DBT_PROJECT_DIR / "seeds" / "stage_mapping.csv").open(encoding="utf-8") as seed:
        return [
            (int(row["pipeline_id"]), int(row["status_id"]))
            for row in csv.DictReader(seed)
            if row["source"] == "amocrm"
        ]


def _copy_to_landing(
    raw_dir: Path, source: str, entity: str, sql: str, params: list[object] | None = None
) -> None:
    """Write the rows of `sql` as the one landing file of `source`/`entity` with DuckDB."""
    target = raw_dir / source / entity / RUN
    target.mkdir(parents=True, exist_ok=True)
    landed = target / "part-00001.parquet"
    with duckdb.connect() as con:
        con.execute(f"copy ({sql}) to '{landed}'", params or [])
    _check_landing_contract(landed, source, entity)


def _check_landing_contract(landed: Path, source: str, entity: str) -> None:
    """Fail unless the file has the columns and types of extract/schemas.py, as the
    extractors' files do: a benchmark over other types would time other SQL."""
    landed_types = {field.name: field.type for field in pq.read_schema(landed)}
    contract_types = {field.name: field.type for field in SCHEMAS[(source, entity)]}
    if landed_types != contract_types:
        differing = sorted(
            f"{name}: {landed_types.get(name)} (contract: {contract_types.get(name)})"
            for name in landed_types.keys() | contract_types.keys()
            if landed_types.get(name) != contract_types.get(name)
        )
        raise ValueError(
            f"benchmark file {source}/{entity} breaks the landing contract: {differing}"
        )


def _utm_campaign_of_lead() -> str:
    """A lead's utm_campaign: the id of a campaign of the platform its number picks."""
    ids = ", ".join(f"({p.campaign_id})::varchar" for p in AD_PLATFORMS)
    return f"[{ids}][1 + i % {len(AD_PLATFORMS)}]"


def land_amocrm(raw_dir: Path, leads: int, campaigns: int) -> None:
    """Leads spread over every platform's campaigns, one contact each, no status change."""
    stages = _amocrm_stages()
    meta = LOAD_METADATA.format(source="amocrm")
    utm_sources = ", ".join(f"'{p.utm_source}'" for p in AD_PLATFORMS)
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
                      'values': [case when i % 5 = 0 then null
                                 else [{utm_sources}][1 + i % {len(AD_PLATFORMS)}] end]}},
                    {{'field_id': 2::bigint, 'field_code': 'UTM_CAMPAIGN',
                      'field_name': 'utm_campaign',
                      'values': [{_utm_campaign_of_lead()}]}},
                    {{'field_id': 3::bigint, 'field_code': null::varchar,
                      'field_name': 'Тип клиента',
                      'values': [['Дилер', 'Застройщик', 'Частный покупатель'][1 + i % 3]]}}
                ] as custom_fields,
                {meta}, '{{}}' as _payload
            from (
                -- c: the lead's campaign number, as the platforms' campaign ids take it
                select i, (i // {len(AD_PLATFORMS)}) % {campaigns} as c from range({leads}) as t(i)
            )
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
        params = [[list(s) for s in stages]] * 2 if entity == "leads" else None
        _copy_to_landing(raw_dir, "amocrm", entity, sql, params)


def land_ad_platforms(raw_dir: Path, campaigns: int) -> None:
    """Every day of the half year for each platform's campaigns, costs varying by row."""
    for platform in AD_PLATFORMS:
        vat_column = ", false as includes_vat" if platform.source == "yandex_direct" else ""
        _copy_to_landing(
            raw_dir,
            platform.source,
            "campaign_stats",
            f"""
            select
                '{platform.account}' as account, day::date as date,
                {platform.campaign_id} as campaign_id, 'campaign ' || c as campaign_name,
                1000::bigint as impressions, 40::bigint as clicks,
                ((hash(c, day) % 100000000) * 0.000001)::decimal(18, 6) as cost,
                '{platform.currency}' as currency, '{platform.time_zone}' as time_zone
                {vat_column},
                {LOAD_METADATA.format(source=platform.source)}, '' as _payload
            from range({campaigns}) as t(c),
                range(date '{FIRST_AD_DAY}', date '{END_AD_DAY}', interval 1 day) as d(day)
            """,
        )


def land_cbr_rates(raw_dir: Path) -> None:
    """The CBR's publications over the ad days, dated Tuesday to Saturday as the CBR dates
    them (a rate takes effect the day after it is set), so a Sunday or Monday takes
    Saturday's rate. Holidays are not modelled: they change the calendar, not the work."""
    _copy_to_landing(
        raw_dir,
        "cbr_rates",
        "daily_rates",
        f"""
        select
            day::date as rate_date, day::date as requested_date, currency, num_code,
            cbr_id, nominal::bigint as nominal,
            (roubles + (hash(currency, day) % 40000) * 0.0001)::decimal(18, 6) as value,
            name, {LOAD_METADATA.format(source="cbr_rates")}, '' as _payload
        from range(date '{FIRST_RATE_DAY}', date '{END_AD_DAY}', interval 1 day) as d(day),
            (values
                ('USD', '840', 'R01235', 1, 76, 'Доллар США'),
                ('EUR', '978', 'R01239', 1, 88, 'Евро'),
                ('KZT', '398', 'R01335', 100, 14, 'Казахстанских тенге')
            ) as c(currency, num_code, cbr_id, nominal, roubles, name)
        where isodow(day) between 2 and 6
        """,
    )


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


def _node_seconds(target: Path) -> dict[str, float]:
    """Each node's execution time in dbt's run_results.json of the last command."""
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {result["unique_id"]: result["execution_time"] for result in results}


def print_slowest_nodes(target: Path) -> None:
    seconds = _node_seconds(target)
    print(
        f"  slowest of {len(seconds)} dbt nodes (two run at once on one DuckDB, so a node's "
        "time includes its neighbour's load):"
    )
    for node in sorted(seconds, key=seconds.__getitem__, reverse=True)[:SLOWEST_NODES]:
        print(f"  {seconds[node]:8.1f} s  {node}")


def time_conversion_alone(paths: Paths, target: Path, ad_rows: int) -> None:
    """Rebuild the rates and the converted spend on their own, timed by dbt (the dbt
    process's start is left out): inside the build their times include other nodes' load."""
    run_dbt(["run", "--select", *CONVERSION_MODELS], paths, target)
    seconds = sum(_node_seconds(target).values())
    print(
        f"{'convert ad spend alone':<22} {seconds:8.1f} s  {ad_rows / seconds:12,.0f} rows/s  "
        f"({' + '.join(CONVERSION_MODELS)} rebuilt after the build)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument(
        "--ad-rows",
        type=int,
        default=300_000,
        help="campaign-day rows over the three platforms, rounded to whole campaigns",
    )
    args = parser.parse_args()
    campaigns = max(1, round(args.ad_rows / (len(AD_PLATFORMS) * AD_DAYS)))
    ad_rows = campaigns * len(AD_PLATFORMS) * AD_DAYS
    with tempfile.TemporaryDirectory(prefix="funnelhouse-bench-") as tmp:
        paths = Paths(Path(tmp) / "bench.duckdb", Path(tmp) / "raw", Path(tmp) / "unused")
        target = Path(tmp) / "target"
        print(
            f"{args.leads:,} leads, {ad_rows:,} ad rows ({campaigns:,} campaigns per platform "
            f"x {AD_DAYS} days x {len(AD_PLATFORMS)} platforms) in {tmp}"
        )

        def land() -> None:
            land_amocrm(paths.raw_dir, args.leads, campaigns)
            land_ad_platforms(paths.raw_dir, campaigns)
            land_cbr_rates(paths.raw_dir)

        timed("land raw Parquet", args.leads + ad_rows, land)
        timed(
            "validate phones",
            args.leads,
            lambda: refresh_phone_numbers(paths.warehouse, paths.raw_dir),
        )
        timed("dbt build", args.leads + ad_rows, lambda: run_dbt(["build"], paths, target))
        print_slowest_nodes(target)
        time_conversion_alone(paths, target, ad_rows)

        def gate() -> None:
            try:
                print(run_quality_gate(paths.warehouse, RUN, raw_dir=paths.raw_dir).summary())
            except QualityGateFailed as failed:  # synthetic data trips some checks: fine here
                print(failed.result.summary())

        timed("quality gate", args.leads + ad_rows, gate)


if __name__ == "__main__":
    main()
