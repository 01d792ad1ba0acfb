"""The work behind each task of the DAGs. DAG files only wire these together.

Extract tasks write Parquet files only, so they run in parallel; every function here that
opens the warehouse for writing runs under the one-slot pool `WAREHOUSE_POOL`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from extract.amocrm import extract_amocrm
from extract.connection import SourceConnection
from extract.landing import RawLanding
from extract.yandex_direct import extract_yandex_direct
from funnelhouse.connections import source_connection
from funnelhouse.dbt import run_dbt
from funnelhouse.phones import refresh_phone_numbers
from funnelhouse.runs import has_completed_run, write_manifest
from funnelhouse.settings import Paths, SourceConfig
from funnelhouse.windows import ad_report_days, crm_full_history

log = logging.getLogger(__name__)


def extract_source(
    source: SourceConfig,
    *,
    run_id: str,
    data_interval_end: datetime,
    connection: SourceConnection | None = None,
    paths: Paths | None = None,
) -> dict[str, Any]:
    """Land one source's records for the run's window as Parquet, then record the run.

    The connection defaults to the source's Airflow Connection.
    """
    connection = connection or source_connection(source.conn_id)
    paths = paths or Paths.from_env()
    landing = RawLanding(paths.raw_dir, source.name, run_id)
    if source.name == "amocrm":
        window = crm_full_history(source.start_date, data_interval_end)
        log.info("amocrm: reading records updated in [%s, %s)", window.start, window.end)
        counts = extract_amocrm(
            connection,
            landing,
            updated_from=window.start,
            updated_to=window.end,
            page_size=int(source.options.get("page_size", 250)),
        )
        details: dict[str, Any] = {"updated_from": window.start, "updated_to": window.end}
    elif source.name == "yandex_direct":
        options = source.options
        days = ad_report_days(
            data_interval_end,
            account_time_zone=str(options["time_zone"]),
            lookback_days=int(options.get("lookback_days", 3)),
            start_date=source.start_date,
            first_run=not has_completed_run(paths.raw_dir, source.name),
        )
        log.info("yandex_direct: reading report days %s .. %s", days.first, days.last)
        counts = extract_yandex_direct(
            connection,
            landing,
            date_from=days.first,
            date_to=days.last,
            client_login=str(options["client_login"]),
            currency=str(options["currency"]),
            time_zone=str(options["time_zone"]),
            include_vat=bool(options.get("include_vat", False)),
        )
        details = {"date_from": days.first, "date_to": days.last}
    else:
        raise ValueError(f"no extractor for source {source.name!r}")
    write_manifest(paths.raw_dir, source.name, run_id, {**details, "counts": counts})
    log.info("%s: landed %s", source.name, counts)
    return counts


def refresh_phones(paths: Paths | None = None) -> int:
    paths = paths or Paths.from_env()
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)  # the night's first warehouse write
    return refresh_phone_numbers(paths.warehouse, paths.raw_dir)


def build_models(paths: Paths | None = None) -> None:
    run_dbt(["build"], paths or Paths.from_env())


def quality_gate(*, run_id: str, paths: Paths | None = None) -> str:
    # Great Expectations takes seconds to import: only the gate task pays for it.
    from expectations.gate import run_quality_gate

    paths = paths or Paths.from_env()
    result = run_quality_gate(paths.warehouse, run_id)
    log.info("quality gate: %s", result.summary())
    return result.summary()
