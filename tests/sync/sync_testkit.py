"""Helpers of the sync tests: the sandbox as one source pair, what a landing area holds once
de-duplicated the way staging does it, and what the sandbox serves, read from its dataset.

The canonical view follows staging's documented rules (dbt_project/models/staging): the
newest version of every key, by update time then extraction time for CRM records, by
extraction time for ad rows; a lead the latest id sweep did not list counts as deleted
when its version landed before the sweep began.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy
from extract.yandex_direct import yandex_retry_hint
from funnelhouse.settings import SourceConfig
from sandbox import Dataset, RunningServer, start_amocrm, start_yandex_direct

TOKEN = "sync-test-token-5f2a9c"
START_DATE = date(2026, 1, 1)
METADATA = ("_source", "_extracted_at", "_run_id", "_payload")

AMOCRM = SourceConfig("amocrm", "unused", START_DATE, {"page_size": 40})
YANDEX = SourceConfig(
    "yandex_direct",
    "unused",
    START_DATE,
    {
        "lookback_days": 3,
        "client_login": "playground-ads",
        "currency": "RUB",
        "time_zone": "Europe/Moscow",
        "include_vat": False,
    },
)


@dataclass
class Sandbox:
    """Both sandbox servers over one dataset the test may edit between (or during) runs."""

    dataset: Dataset
    amocrm: RunningServer
    yandex: RunningServer

    def connection(self, source: SourceConfig) -> SourceConnection:
        server = self.amocrm if source.name == "amocrm" else self.yandex
        return SourceConnection(server.url, TOKEN)

    def lead(self, lead_id: int) -> dict[str, Any]:
        return next(lead for lead in self.dataset.leads if lead["id"] == lead_id)


@contextmanager
def running_sandbox(dataset: Dataset) -> Iterator[Sandbox]:
    """A private copy of `dataset` served without a practical rate limit and with reports
    ready on the second poll, so runs take milliseconds."""
    served = copy.deepcopy(dataset)
    with (
        start_amocrm(served, token=TOKEN, max_requests_per_second=10_000) as amocrm,
        start_yandex_direct(
            served,
            token=TOKEN,
            client_login=served.client_login,
            polls_before_ready=0,
            retry_in_seconds=0,
        ) as yandex,
    ):
        yield Sandbox(served, amocrm, yandex)


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def fast_client(source: str, url: str, read_timeout: float) -> HttpClient:
    """A client that does not wait: no pacing, no pause before a retry."""
    return HttpClient(
        source,
        base_url=url,
        token=TOKEN,
        pacer=Pacer(10_000, 1.0, sleep=lambda _: None),
        retry=RetryPolicy(max_attempts=6),
        timeout=(2.0, read_timeout),
        retry_hint=yandex_retry_hint if source == "yandex_direct" else lambda _: None,
        sleep=lambda _: None,
    )


# --- what landed, de-duplicated -----------------------------------------------------------

KEYS = {
    ("amocrm", "leads"): ("lead_id",),
    ("amocrm", "contacts"): ("contact_id",),
    ("amocrm", "status_changes"): ("event_id",),
    ("amocrm", "statuses"): ("pipeline_id", "status_id"),
    ("amocrm", "loss_reasons"): ("loss_reason_id",),
    ("yandex_direct", "campaign_stats"): ("account", "date", "campaign_id"),
}
UPDATED_FIRST = ("leads", "contacts", "loss_reasons")


def landed_rows(raw_dir: Path, source: str, entity: str) -> list[dict[str, Any]]:
    files = raw_dir / source / entity
    if not any(files.glob("*/*.parquet")):
        return []
    glob = str(files / "*" / "*.parquet")
    with duckdb.connect() as con:
        cursor = con.execute("select * from read_parquet(?, union_by_name = true)", [glob])
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def canonical(raw_dir: Path, source: str, entity: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The newest version of every key, load metadata dropped (deletions by sweep applied)."""
    key_columns = KEYS[(source, entity)]
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in landed_rows(raw_dir, source, entity):
        key = tuple(row[column] for column in key_columns)
        if key not in newest or _rank(entity, row) > _rank(entity, newest[key]):
            newest[key] = row
    if (source, entity) == ("amocrm", "leads"):
        _apply_latest_sweep(raw_dir, newest)
    return {key: _record(row) for key, row in newest.items()}


def _rank(entity: str, row: dict[str, Any]) -> tuple[Any, ...]:
    if entity in UPDATED_FIRST:
        updated = row["updated_at"]
        return (updated is not None, updated or row["_extracted_at"], row["_extracted_at"])
    return (row["_extracted_at"],)


def _apply_latest_sweep(raw_dir: Path, leads: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    swept = landed_rows(raw_dir, "amocrm", "lead_ids")
    if not swept:
        return
    swept_at = max(row["_extracted_at"] for row in swept)
    listed = {row["lead_id"] for row in swept if row["_extracted_at"] == swept_at}
    for (lead_id,), row in leads.items():
        if lead_id not in listed and row["_extracted_at"] < swept_at:
            row["is_deleted"] = True


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in METADATA}


def everything(raw_dir: Path) -> dict[tuple[str, str], dict[tuple[Any, ...], dict[str, Any]]]:
    """The canonical records of every entity of both sources."""
    return {(source, entity): canonical(raw_dir, source, entity) for source, entity in KEYS}


# --- what the sandbox serves, from its dataset (independent of the extractors) -------------


def served_leads(dataset: Dataset) -> dict[int, tuple[Any, ...]]:
    """Lead id -> (price, status_id, updated_at, is_deleted) of every lead the source has."""
    return {
        lead["id"]: (
            None if lead["is_deleted"] else lead["price"],
            None if lead["is_deleted"] else lead["status_id"],
            datetime.fromtimestamp(lead["updated_at"], UTC),
            bool(lead["is_deleted"]),
        )
        for lead in dataset.leads
    }


def landed_leads(raw_dir: Path) -> dict[int, tuple[Any, ...]]:
    """The same tuple of every canonical landed lead."""
    return {
        lead_id: (
            None if row["is_deleted"] else row["price"],
            None if row["is_deleted"] else row["status_id"],
            row["updated_at"],
            bool(row["is_deleted"]),
        )
        for (lead_id,), row in canonical(raw_dir, "amocrm", "leads").items()
    }


def served_costs(dataset: Dataset) -> dict[tuple[date, int], Decimal]:
    """(day, campaign) -> cost in roubles net of VAT."""
    return {
        (date.fromisoformat(row["Date"]), row["CampaignId"]): Decimal(row["Cost"])
        / Decimal(1_000_000)
        for row in dataset.ad_stats
    }


def landed_costs(raw_dir: Path) -> dict[tuple[date, int], Decimal]:
    return {
        (day, campaign_id): row["cost"]
        for (_, day, campaign_id), row in canonical(
            raw_dir, "yandex_direct", "campaign_stats"
        ).items()
    }
