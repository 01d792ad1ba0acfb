"""The work behind each task of the DAGs. DAG files only wire these together.

Extract tasks write Parquet files only, so they run in parallel; every function here that
opens the warehouse for writing runs under the one-slot pool `WAREHOUSE_POOL`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from extract import cbr_rates, google_ads, hubspot, meta_ads
from extract.ad_account import AdAccount
from extract.amocrm import extract_amocrm, sweep_lead_ids
from extract.bitrix24 import extract_bitrix24, sweep_ids
from extract.connection import SourceConnection
from extract.landing import RawLanding
from extract.yandex_direct import extract_yandex_direct
from funnelhouse.connections import source_connection
from funnelhouse.dbt import run_dbt
from funnelhouse.phones import refresh_phone_numbers
from funnelhouse.runs import BACKFILL, NIGHTLY, SyncState, sync_state, write_manifest
from funnelhouse.settings import Paths, SourceConfig
from funnelhouse.windows import (
    Backfill,
    ReportDays,
    UpdatedWindow,
    ad_report_days,
    crm_updated_window,
    sweep_due,
)

log = logging.getLogger(__name__)

# Sources whose connection may have no password: the CBR's public feed, and Google Ads,
# whose refresh-token flow keeps its secrets in the connection's extra.
PASSWORD_OPTIONAL = frozenset({"cbr_rates", "google_ads"})
CBR_TIME_ZONE = "Europe/Moscow"  # the CBR sets its rates for Moscow days


def extract_source(
    source: SourceConfig,
    *,
    run_id: str,
    data_interval_end: datetime | None,
    backfill: Backfill | None = None,
    connection: SourceConnection | None = None,
    paths: Paths | None = None,
) -> dict[str, int]:
    """Land one source's records for the run as Parquet, then record the run's manifest.

    A nightly run (no `backfill`) reads on from where the completed nightly runs of the
    source left off (see funnelhouse.windows); a backfill reads its range and moves no
    nightly cursor. The connection defaults to the source's Airflow Connection.
    """
    extract = _SOURCE_EXTRACTS.get(source.name)
    if extract is None:
        raise ValueError(f"no extractor for source {source.name!r}")
    paths = paths or Paths.from_env()
    scope: _Scope
    if backfill is not None:
        backfill.check_starts_within_history(source.name, source.start_date)
        scope = backfill
    elif data_interval_end is not None:
        state = sync_state(
            paths.raw_dir, source.name, until=data_interval_end, exclude_run_id=run_id
        )
        scope = _NightlyScope(data_interval_end, state)
    else:
        raise ValueError(f"{source.name}: a nightly extraction needs the run's data interval end")
    connection = connection or source_connection(
        source.conn_id, needs_token=source.name not in PASSWORD_OPTIONAL
    )
    details = extract(source, connection, RawLanding(paths.raw_dir, source.name, run_id), scope)
    kind = BACKFILL if backfill else NIGHTLY
    interval_end = data_interval_end.isoformat() if data_interval_end else None
    write_manifest(
        paths.raw_dir, source.name, run_id, kind, {"data_interval_end": interval_end, **details}
    )
    log.info("%s: %s run landed %s", source.name, kind, details["counts"])
    return details["counts"]


@dataclass(frozen=True)
class _NightlyScope:
    """What a nightly run reads on from: its interval end and the completed runs' cursors."""

    data_interval_end: datetime
    state: SyncState


_Scope = _NightlyScope | Backfill


@dataclass(frozen=True)
class _CrmSyncPlan:
    """What a CRM run reads: records updated in `window`, then all ids when `sweep`."""

    window: UpdatedWindow
    sweep: bool
    checked: dict[str, str]  # manifest details: when deletions were last looked for

    def details(self, counts: dict[str, int]) -> dict[str, Any]:
        return {
            "updated_from": self.window.start.isoformat(),
            "updated_to": self.window.end.isoformat(),
            "lead_ids_swept": self.sweep,
            **self.checked,
            "counts": counts,
        }


def _crm_sync_plan(source: SourceConfig, scope: _Scope) -> _CrmSyncPlan:
    """The update-time window and id sweep of a CRM run, by the shared cursor machinery."""
    options = source.options
    checked: dict[str, str] = {}
    if isinstance(scope, Backfill):
        window, sweep = scope.updated_window(), scope.sweep_lead_ids
    else:
        end, state = scope.data_interval_end, scope.state
        window = crm_updated_window(
            source.start_date,
            end,
            read_until=state.updated_to,
            overlap=timedelta(minutes=float(options.get("overlap_minutes", 60))),
        )
        first_load = state.updated_to is None  # nothing staged yet: no deletion to find
        every = timedelta(days=float(options.get("sweep_every_days", 7)))
        sweep = not first_load and sweep_due(state.deletions_checked_at, end, every)
        if first_load or sweep:
            checked["deletions_checked_at"] = end.isoformat()
    log.info(
        "%s: reading records updated in [%s, %s)%s",
        source.name,
        window.start,
        window.end,
        ", then every id (the deletion sweep)" if sweep else "",
    )
    return _CrmSyncPlan(window, sweep, checked)


def _extract_amocrm(
    source: SourceConfig,
    connection: SourceConnection,
    landing: RawLanding,
    scope: _Scope,
) -> dict[str, Any]:
    page_size = int(source.options.get("page_size", 250))
    plan = _crm_sync_plan(source, scope)
    window = plan.window
    counts = extract_amocrm(
        connection, landing, updated_from=window.start, updated_to=window.end, page_size=page_size
    )
    if plan.sweep:
        counts |= sweep_lead_ids(connection, landing, page_size=page_size)
    return plan.details(counts)


def _extract_bitrix24(
    source: SourceConfig,
    connection: SourceConnection,
    landing: RawLanding,
    scope: _Scope,
) -> dict[str, Any]:
    plan = _crm_sync_plan(source, scope)
    counts = extract_bitrix24(
        connection, landing, updated_from=plan.window.start, updated_to=plan.window.end
    )
    if plan.sweep:
        counts |= sweep_ids(connection, landing)
    return plan.details(counts)


def _extract_hubspot(
    source: SourceConfig,
    connection: SourceConnection,
    landing: RawLanding,
    scope: _Scope,
) -> dict[str, Any]:
    plan = _crm_sync_plan(source, scope)
    counts = hubspot.extract_hubspot(
        connection, landing, updated_from=plan.window.start, updated_to=plan.window.end
    )
    if plan.sweep:
        counts |= hubspot.sweep_ids(connection, landing)
    return plan.details(counts)


def _report_days(
    source: SourceConfig, scope: _Scope, time_zone: str, default_lookback_days: int
) -> ReportDays:
    """The report days of a run: the backfill's, or the nightly lookback in `time_zone`."""
    if isinstance(scope, Backfill):
        days = scope.report_days()
    else:
        days = ad_report_days(
            scope.data_interval_end,
            account_time_zone=time_zone,
            lookback_days=int(source.options.get("lookback_days", default_lookback_days)),
            start_date=source.start_date,
            last_day_read=scope.state.last_report_day,
        )
    log.info("%s: reading report days %s .. %s (%s)", source.name, days.first, days.last, time_zone)
    return days


def _report_details(
    days: ReportDays, counts: dict[str, int], account: AdAccount | None = None
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "date_from": days.first.isoformat(),
        "date_to": days.last.isoformat(),
    }
    if account is not None:  # what the platform said of the account this run
        details |= {"currency": account.currency, "time_zone": account.time_zone}
    return {**details, "counts": counts}


def _extract_yandex_direct(
    source: SourceConfig,
    connection: SourceConnection,
    landing: RawLanding,
    scope: _Scope,
) -> dict[str, Any]:
    options = source.options
    days = _report_days(source, scope, str(options["time_zone"]), default_lookback_days=3)
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
    return _report_details(days, counts)


def _extract_google_ads(
    source: SourceConfig,
    connection: SourceConnection,
    landing: RawLanding,
    scope: _Scope,
) -> dict[str, Any]:
    """The account's currency and time zone come from the API, so the report days are
    the account's own. One client serves both calls: one access token per run."""
    login_customer_id = source.options.get("login_customer_id")
    login_customer_id = None if login_customer_id is None else str(login_customer_id)
    with google_ads.make_client(connection, login_customer_id=login_customer_id) as client:
        account = google_ads.fetch_account(
            connection,
            customer_id=str(source.options["customer_id"]),
            login_customer_id=login_customer_id,
            client=client,
        )
        days = _report_days(source, scope, account.time_zone, default_lookback_days=30)
        counts = google_ads.extract_google_ads(
            connection,
            landing,
            account,
            date_from=days.first,
            date_to=days.last,
            login_customer_id=login_customer_id,
            client=client,
        )
    return _report_details(days, counts, account)


def _extract_meta_ads(
    source: SourceConfig,
    connection: SourceConnection,
    landing: RawLanding,
    scope: _Scope,
) -> dict[str, Any]:
    options = source.options
    account = meta_ads.fetch_account(connection, account_id=str(options["account_id"]))
    days = _report_days(source, scope, account.time_zone, default_lookback_days=28)
    counts = meta_ads.extract_meta_ads(
        connection,
        landing,
        account,
        date_from=days.first,
        date_to=days.last,
        async_after_days=int(options.get("async_after_days", 31)),
    )
    return _report_details(days, counts, account)


def _extract_cbr_rates(
    source: SourceConfig,
    connection: SourceConnection,
    landing: RawLanding,
    scope: _Scope,
) -> dict[str, Any]:
    """Rates are set in Moscow; a lookback re-reads the days a missed night skipped."""
    days = _report_days(source, scope, CBR_TIME_ZONE, default_lookback_days=7)
    currencies = source.options.get("currencies")
    counts = cbr_rates.extract_cbr_rates(
        connection,
        landing,
        date_from=days.first,
        date_to=days.last,
        currencies=None if currencies is None else [str(code) for code in currencies],
    )
    return _report_details(days, counts)


# Each lands one source for a run and returns its manifest details, "counts" included.
_SOURCE_EXTRACTS: dict[
    str, Callable[[SourceConfig, SourceConnection, RawLanding, _Scope], dict[str, Any]]
] = {
    "amocrm": _extract_amocrm,
    "bitrix24": _extract_bitrix24,
    "hubspot": _extract_hubspot,
    "yandex_direct": _extract_yandex_direct,
    "google_ads": _extract_google_ads,
    "meta_ads": _extract_meta_ads,
    "cbr_rates": _extract_cbr_rates,
}


def refresh_phones(paths: Paths | None = None) -> int:
    paths = paths or Paths.from_env()
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)  # the night's first warehouse write
    return refresh_phone_numbers(paths.warehouse, paths.raw_dir)


def build_models(paths: Paths | None = None) -> None:
    run_dbt(["build"], paths or Paths.from_env())


def quality_gate(*, run_id: str, paths: Paths | None = None) -> str:
    """Check the run's raw files and the warehouse, record the results, build the run's
    Data Docs; raise `QualityGateFailed` when a critical check failed."""
    # Great Expectations takes seconds to import: only the gate task pays for it.
    from expectations.gate import run_quality_gate

    paths = paths or Paths.from_env()
    return run_quality_gate(paths.warehouse, run_id, raw_dir=paths.raw_dir).summary()


def publish_marts(*, run_id: str, gate_state: str | None, paths: Paths | None = None) -> str:
    """Publish after every run, whatever happened before (see funnelhouse/publish.py).

    `gate_state` is the Airflow state of the run's quality_gate task: `success` publishes
    the business marts and mart_data_quality; any other state publishes mart_data_quality
    only, then raises `PublicationBlocked` so that the run ends failed.
    """
    from funnelhouse.publish import (
        GateOutcome,
        PublicationBlocked,
        PublicationStatus,
        publish_root,
        publish_run,
    )

    paths = paths or Paths.from_env()
    outcome = {"success": GateOutcome.PASSED, "failed": GateOutcome.FAILED}.get(
        gate_state or "", GateOutcome.NOT_RUN
    )
    publication = publish_run(paths.warehouse, publish_root(paths.warehouse), run_id, outcome)
    if publication.status is not PublicationStatus.PUBLISHED:
        raise PublicationBlocked(
            f"run {run_id}: business marts not published ({publication.status}: "
            f"{publication.reason}); BI keeps those of run {publication.marts_run_id}, "
            "and reads this run's results in mart_data_quality"
        )
    return f"published version {publication.version}"


def publish_after_gate(context: Mapping[str, Any]) -> str:
    """The `publish` task of both DAGs: the run's quality_gate state decides what BI gets."""
    run_id = context["run_id"]
    states = context["ti"].get_task_states(
        dag_id=context["dag"].dag_id, task_ids=["quality_gate"], run_ids=[run_id]
    )
    return publish_marts(run_id=run_id, gate_state=states.get(run_id, {}).get("quality_gate"))
