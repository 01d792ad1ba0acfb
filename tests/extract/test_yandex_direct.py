"""Yandex Direct Reports: TSV parsing (golden report built from the documented layout,
see golden/README.md), request identity, and the 201/202/200 flow against a local server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from extract_testkit import GOLDEN, FakeClock, Reply, ScriptedServer, golden_json

from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy, SourceError, SourceResponseError
from extract.landing import RawLanding
from extract.yandex_direct import (
    ReportContext,
    YandexReportError,
    extract_yandex_direct,
    parse_cost,
    parse_report,
    report_request,
)

CONTEXT = ReportContext("playground-ads", "RUB", "Europe/Moscow", includes_vat=False)
HEADER = b"Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost"


def golden_lines() -> list[bytes]:
    return (GOLDEN / "yandex_campaign_report.tsv").read_bytes().split(b"\n")


class Quarantine:
    def __init__(self) -> None:
        self.records: list[tuple[str | None, str, str]] = []

    def __call__(self, record_id: str | None, reason: str, payload: str) -> None:
        self.records.append((record_id, reason, payload))


def test_golden_report_with_title_header_and_summary():
    # yandex.com/dev/direct/doc/en/report-format: title, column names, data, row count
    quarantine = Quarantine()
    rows = list(parse_report(golden_lines(), CONTEXT, quarantine))
    assert quarantine.records == []
    assert [(r["date"], r["campaign_id"], r["campaign_name"]) for r in rows] == [
        (date(2024, 1, 1), 12345678, "Поиск — Москва"),
        (date(2024, 1, 1), 12345679, "РСЯ — бренд"),
        (date(2024, 1, 2), 12345678, "Поиск — Москва"),
    ]
    # micros divided exactly: no float rounding on the last micro
    assert [r["cost"] for r in rows] == [
        Decimal("12500.5"),
        Decimal("210.4"),
        Decimal("11200.300001"),
    ]
    assert [(r["impressions"], r["clicks"]) for r in rows] == [
        (15234, 523),
        (3819, 12),
        (14102, 498),
    ]
    assert {(r["account"], r["currency"], r["time_zone"], r["includes_vat"]) for r in rows} == {
        ("playground-ads", "RUB", "Europe/Moscow", False)
    }
    assert [r["_payload"] for r in rows] == [line.decode() for line in golden_lines()[2:5]]


def test_report_without_title_and_summary_and_with_reordered_columns():
    lines = [
        b"Cost\tDate\tCampaignId\tCampaignName\tClicks\tImpressions",
        b"5000000\t2024-02-03\t7\tx\t1\t20",
    ]
    (row,) = parse_report(lines, CONTEXT, Quarantine())
    assert (row["cost"], row["date"], row["campaign_id"]) == (Decimal(5), date(2024, 2, 3), 7)
    assert (row["clicks"], row["impressions"]) == (1, 20)


def test_costs_in_currency_units_when_micros_are_switched_off():
    assert parse_cost("12.50", money_in_micros=False) == Decimal("12.50")
    assert parse_cost("0", money_in_micros=False) == Decimal(0)
    assert parse_cost("--", money_in_micros=False) is None
    lines = [HEADER, b"2024-01-01\t1\tx\t10\t2\t1.234567", b"2024-01-01\t2\ty\t10\t2\t1.2345678"]
    quarantine = Quarantine()
    context = ReportContext("a", "RUB", "Europe/Moscow", False, money_in_micros=False)
    rows = list(parse_report(lines, context, quarantine))
    assert [r["cost"] for r in rows] == [Decimal("1.234567")]
    ((record_id, reason, payload),) = quarantine.records
    assert record_id == "2024-01-01:2"
    assert (
        reason
        == "yandex_direct campaign_stats line 3: Cost '1.2345678' has more than 6 decimal places"
    )
    assert payload == "2024-01-01\t2\ty\t10\t2\t1.2345678"


def test_bad_lines_are_quarantined_and_the_rest_land():
    lines = [
        HEADER,
        b"2024-01-01\t1\tok\t10\t2\t3000000",
        b"2024-01-01\t2\tunits, not micros\t10\t2\t3.5",
        b"2024-13-01\t3\tbad date\t10\t2\t1",
        b"2024-01-01\t4\ttoo few cells",
        b"2024-01-01\t5\tno clicks yet\t10\t--\t0",
        b"2024-01-01\t6\t\xff\xfe broken bytes\t1\t1\t1",
    ]
    quarantine = Quarantine()
    rows = list(parse_report(lines, CONTEXT, quarantine))
    assert [(r["campaign_id"], r["clicks"]) for r in rows] == [(1, 2), (5, None)]
    reasons = [reason for _, reason, _ in quarantine.records]
    assert (
        reasons[0]
        == "yandex_direct campaign_stats line 3: Cost '3.5' is not an integer number of micros"
    )
    assert (
        reasons[1]
        == "yandex_direct campaign_stats line 4: Date '2024-13-01' is not a YYYY-MM-DD date"
    )
    assert (
        reasons[2] == "yandex_direct campaign_stats line 5: expected 6 tab-separated cells, got 3"
    )
    assert reasons[3].startswith("yandex_direct campaign_stats line 7: not UTF-8")
    assert "\\xff\\xfe broken bytes" in quarantine.records[3][2]


def test_a_summary_that_disagrees_with_the_data_fails_the_report():
    lines = [HEADER, b"2024-01-01\t1\tx\t1\t1\t1", b"Total rows: 2"]
    with pytest.raises(SourceResponseError, match="summary says 2 rows but 1 data lines"):
        list(parse_report(lines, CONTEXT, Quarantine()))


def test_a_report_without_column_header_is_refused():
    lines = [b'"name (2024-01-01 - 2024-01-01)"', b"2024-01-01\t1\tx\t1\t1\t1"]
    with pytest.raises(SourceResponseError, match="no column header"):
        list(parse_report(lines, CONTEXT, Quarantine()))


def test_parsing_is_lazy_line_by_line():
    consumed = 0

    def lines() -> Iterator[bytes]:
        nonlocal consumed
        for line in [HEADER] + [b"2024-01-01\t%d\tx\t1\t1\t1" % i for i in range(1, 10_000)]:
            consumed += 1
            yield line

    rows = parse_report(lines(), CONTEXT, Quarantine())
    assert next(rows)["campaign_id"] == 1
    assert consumed == 2


def test_report_name_identifies_the_parameters():
    def name(**changes: Any) -> str:
        arguments = {
            "date_from": date(2026, 1, 1),
            "date_to": date(2026, 1, 3),
            "client_login": "playground-ads",
            "include_vat": False,
            "money_in_micros": True,
            "run_id": "scheduled__2026-01-04",
        } | changes
        return report_request(**arguments)["params"]["ReportName"]

    assert name() == name()
    others = {
        name(date_to=date(2026, 1, 4)),
        name(client_login="other-account"),
        name(include_vat=True),
        name(money_in_micros=False),
        name(run_id="manual__2026-01-05"),  # another run gets a report built anew
    }
    assert name() not in others and len(others) == 5
    with pytest.raises(ValueError, match="after date_to"):
        name(date_from=date(2026, 2, 1))


# --- the client against a scripted Reports endpoint ------------------------------------

TOKEN = "yandex-test-token-0001"


def _client(server: ScriptedServer, clock: FakeClock) -> HttpClient:
    from extract.yandex_direct import yandex_retry_hint

    return HttpClient(
        "yandex_direct",
        base_url=server.url,
        token=TOKEN,
        pacer=Pacer(20, 10.0, clock=clock.monotonic, sleep=clock.sleep),
        retry=RetryPolicy(max_attempts=3),
        retry_hint=yandex_retry_hint,
        sleep=clock.sleep,
    )


def _extract(tmp_path: Path, server: ScriptedServer, clock: FakeClock, **options: Any):
    landing = RawLanding(tmp_path, "yandex_direct", "manual")
    counts = extract_yandex_direct(
        SourceConnection(server.url, TOKEN),
        landing,
        date_from=date(2024, 1, 1),
        date_to=date(2024, 1, 2),
        client_login="playground-ads",
        currency="RUB",
        time_zone="Europe/Moscow",
        include_vat=False,
        client=_client(server, clock),
        **options,
    )
    return landing, counts


def test_queued_then_building_then_ready_resends_the_identical_request(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    report = (GOLDEN / "yandex_campaign_report.tsv").read_bytes()
    server.script(
        "/json/v5/reports",
        [
            Reply(201, headers={"retryIn": "3", "reportsInQueue": "1"}),
            Reply(202, headers={"retryIn": "2"}),
            Reply(200, report, headers={"Content-Type": "text/tab-separated-values"}),
        ],
    )
    landing, counts = _extract(tmp_path, server, clock, batch_size=2)
    assert counts == {"campaign_stats": 3}
    posts = server.requests
    assert len(posts) == 3 and len({p.body for p in posts}) == 1
    params = json.loads(posts[0].body)["params"]
    assert params["SelectionCriteria"] == {"DateFrom": "2024-01-01", "DateTo": "2024-01-02"}
    assert params["FieldNames"] == [
        "Date",
        "CampaignId",
        "CampaignName",
        "Impressions",
        "Clicks",
        "Cost",
    ]
    assert (
        params["ReportType"],
        params["DateRangeType"],
        params["Format"],
        params["IncludeVAT"],
    ) == (
        "CAMPAIGN_PERFORMANCE_REPORT",
        "CUSTOM_DATE",
        "TSV",
        "NO",
    )
    headers = posts[0].headers
    assert headers["Client-Login"] == "playground-ads"
    assert headers["processingMode"] == "auto"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert "returnMoneyInMicros" not in headers  # micros by default
    assert [s for s in clock.sleeps if s >= 1] == [3.0, 2.0]
    directory = landing.entity_dir("campaign_stats")
    assert sorted(p.name for p in directory.iterdir()) == [
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    costs = pq.read_table(directory).column("cost").to_pylist()
    assert sum(costs) == Decimal("23911.200001")


def test_a_rejected_report_request_reports_the_documented_error_fields(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    # yandex.com/dev/direct/doc/en/codes: the error structure of a 400
    server.script("/json/v5/reports", [Reply(400, golden_json("yandex_report_error_400.json"))])
    with pytest.raises(YandexReportError) as raised:
        _extract(tmp_path, server, clock)
    error = raised.value
    assert (error.error_code, error.error_string) == (4000, "Invalid request parameters")
    assert "DateFrom must not be later than DateTo" in str(error)
    assert "request_id 8695244274068608439" in str(error)
    assert len(server.requests) == 1


def test_waiting_for_a_report_is_bounded(tmp_path: Path, server: ScriptedServer, clock: FakeClock):
    server.script("/json/v5/reports", [Reply(202, headers={"retryIn": "10"})])
    with pytest.raises(SourceError, match=r"still not ready after waiting 20 s \(last HTTP 202"):
        _extract(tmp_path, server, clock, max_wait_seconds=25)
    assert len(server.requests) == 3


def test_units_instead_of_micros_are_requested_by_header(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script("/json/v5/reports", [Reply(200, HEADER + b"\n2024-01-01\t1\tx\t1\t1\t12.34\n")])
    landing, _ = _extract(tmp_path, server, clock, money_in_micros=False)
    assert server.requests[0].headers["returnMoneyInMicros"] == "false"
    (row,) = pq.read_table(landing.entity_dir("campaign_stats")).to_pylist()
    assert row["cost"] == Decimal("12.34")
