"""Meta Ads insights: parsing golden payloads (see golden/README.md for which are verbatim),
the usage headers and slowdown policy, and how Meta's error bodies are retried or raised."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from extract_testkit import GOLDEN, FakeClock, Reply, ScriptedServer, golden_json

from extract.ad_account import AdAccount
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, SourceAuthError, SourceHttpError, SourceResponseError
from extract.landing import RawLanding
from extract.meta_ads import (
    MetaApiError,
    MetaTooMuchDataError,
    Usage,
    account_number,
    insights_params,
    make_client,
    meta_retry_hint,
    parse_account,
    parse_insight,
    parse_page,
    read_usage,
    slowdown_seconds,
    submit_report_run,
)

ACCOUNT = AdAccount("1029384756123", "EUR", "Europe/Berlin")


class Quarantine:
    def __init__(self) -> None:
        self.records: list[tuple[str | None, str, str]] = []

    def __call__(self, record_id: str | None, reason: str, payload: str) -> None:
        self.records.append((record_id, reason, payload))


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    """A response as the shared client hands it to the retry hint."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode() if not isinstance(body, bytes) else body
    response.headers.update(headers or {})
    response.request = requests.Request(
        "GET", "https://graph.facebook.com/v27.0/act_1029384756123/insights?limit=500"
    ).prepare()
    return response


def scripted_client(server: ScriptedServer) -> HttpClient:
    pacing = FakeClock()
    return make_client(
        SourceConnection(server.url, "token-for-scripted-server"),
        pacer=Pacer(1000, 1.0, clock=pacing.monotonic, sleep=pacing.sleep),
    )


def golden_headers() -> dict[str, str]:
    return golden_json("meta_ads_usage_headers.json")


# --- parsing ------------------------------------------------------------------------------


def test_golden_daily_campaign_rows():
    quarantine = Quarantine()
    page = golden_json("meta_ads_insights_campaign_daily.json")
    rows = list(parse_page(page["data"], ACCOUNT, quarantine))
    assert quarantine.records == []
    assert [(r["date"], r["campaign_id"], r["impressions"], r["clicks"]) for r in rows] == [
        (date(2026, 3, 14), "120210000000000201", 361324, 214),
        (date(2026, 3, 14), "120210000000000202", 87, None),  # clicks absent: no value
        (date(2026, 3, 15), "120210000000000201", 1502, 0),
    ]
    # spend kept exact, to the last of six places
    assert [r["cost"] for r in rows] == [Decimal("5339.5"), Decimal("0.01"), Decimal("48.123456")]
    assert rows[1]["campaign_name"] == "Facebook — Ретаргетинг"
    assert {(r["account"], r["currency"], r["time_zone"]) for r in rows} == {
        ("1029384756123", "EUR", "Europe/Berlin")
    }
    # the payload is the record as received, nothing of the paging (which holds the token)
    assert json.loads(rows[1]["_payload"]) == page["data"][1]
    assert all("access_token" not in r["_payload"] for r in rows)


def test_docs_example_spans_thirty_days_and_is_quarantined_not_landed():
    # Meta's own example row is a 30-day total: landing it as one day would inflate spend
    quarantine = Quarantine()
    page = golden_json("meta_ads_insights_docs_example.json")
    assert list(parse_page(page["data"], ACCOUNT, quarantine)) == []
    ((record_id, reason, payload),) = quarantine.records
    assert record_id == "2025-03-14:<CAMPAIGN_ID>"
    assert "date_stop '2025-04-12' differs from date_start" in reason
    assert json.loads(payload) == page["data"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"spend": "12.3456789"}, "spend"),  # more places than the landing column holds
        ({"spend": "1000000000000"}, "spend"),  # 10^12: more digits than decimal(18, 6) holds
        ({"spend": "-1000000000000.5"}, "spend"),
        ({"spend": 12.5}, "spend"),  # a float would have lost exactness already
        ({"spend": "1e3"}, "spend"),
        ({"clicks": "7.0"}, "clicks"),
        ({"impressions": "-3"}, "impressions"),
        ({"date_start": "14.03.2026"}, "date_start"),
        ({"campaign_id": None}, "campaign_id"),
        ({"campaign_id": 120210000000000201}, "campaign_id"),
        ({"campaign_name": ["a"]}, "campaign_name"),
    ],
)
def test_a_bad_field_quarantines_the_record_naming_date_campaign_and_field(
    change: dict[str, Any], field: str
):
    good = golden_json("meta_ads_insights_campaign_daily.json")["data"]
    quarantine = Quarantine()
    rows = list(parse_page([good[0] | change, good[2]], ACCOUNT, quarantine))
    assert [r["date"] for r in rows] == [date(2026, 3, 15)]  # the good record still lands
    ((record_id, reason, _),) = quarantine.records
    assert record_id == f"{(good[0] | change)['date_start']}:{(good[0] | change)['campaign_id']}"
    assert f"record {record_id}:" in reason
    assert field in reason.split(f"record {record_id}:")[1]


def test_an_oversized_spend_is_quarantined_and_its_batch_still_lands(tmp_path: Path):
    good = golden_json("meta_ads_insights_campaign_daily.json")["data"]
    largest = good[2] | {"spend": "999999999999.999999"}  # the column's largest value
    oversized = good[0] | {"spend": "1000000000000"}
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    quarantine = Quarantine()
    rows = parse_page([oversized, largest], ACCOUNT, quarantine)
    assert landing.write_rows("campaign_stats", rows, batch_size=10) == 1
    assert landing.written == {"campaign_stats": 1}
    ((record_id, reason, _),) = quarantine.records
    assert record_id == "2026-03-14:120210000000000201"
    assert "spend '1000000000000'" in reason.split(f"record {record_id}:")[1]


def test_a_record_that_is_not_an_object_is_quarantined():
    quarantine = Quarantine()
    assert list(parse_page(["oops"], ACCOUNT, quarantine)) == []
    assert quarantine.records[0][0] is None
    assert "not an object" in quarantine.records[0][1]


def test_metrics_sent_as_numbers_are_read_too():
    record = {"campaign_id": "9", "date_start": "2026-03-01", "date_stop": "2026-03-01"}
    row = parse_insight(record | {"impressions": 10, "clicks": 2, "spend": "0"}, ACCOUNT)
    assert (row["impressions"], row["clicks"], row["cost"]) == (10, 2, Decimal(0))


def test_golden_ad_account_and_its_checks():
    node = golden_json("meta_ads_ad_account.json")
    assert parse_account(node, "1029384756123") == ACCOUNT
    with pytest.raises(SourceResponseError, match=r"^meta_ads: .*1029384756123: currency 'euro'"):
        parse_account(node | {"currency": "euro"}, "1029384756123")
    with pytest.raises(SourceResponseError, match="currency None"):
        parse_account({"account_id": "1029384756123"}, "1029384756123")
    with pytest.raises(SourceResponseError, match="time_zone 'Mars/Olympus'"):
        parse_account(node | {"timezone_name": "Mars/Olympus"}, "1029384756123")
    with pytest.raises(SourceResponseError, match="answered for account_id '42'"):
        parse_account(node | {"account_id": "42"}, "1029384756123")


@pytest.mark.parametrize(
    ("currency", "time_zone", "field"),
    [
        ("eur", "Europe/Berlin", "currency 'eur'"),
        ("EURO", "Europe/Berlin", "currency 'EURO'"),
        (None, "Europe/Berlin", "currency None"),
        ("EUR", "Mars/Olympus", "time_zone 'Mars/Olympus'"),
        ("EUR", "", "time_zone ''"),
        ("EUR", "../etc/passwd", "time_zone '../etc/passwd'"),
        ("EUR", "Europe/" + "x" * 300, "time_zone 'Europe/xxx"),  # too long for a file name
        ("EUR", None, "time_zone None"),
    ],
)
def test_every_ad_account_is_checked_naming_account_and_field(
    currency: Any, time_zone: Any, field: str
):
    with pytest.raises(ValueError, match=f"^ad account 77: {field}"):
        AdAccount("77", currency, time_zone)


def test_account_ids_with_or_without_act_prefix():
    assert account_number("act_1029384756123") == "1029384756123"
    assert account_number(" 1029384756123 ") == "1029384756123"
    with pytest.raises(ValueError, match="act_12x"):
        account_number("act_12x")


def test_insights_query_asks_for_daily_campaign_rows_of_the_range():
    params = insights_params(date(2026, 3, 1), date(2026, 3, 31))
    assert params["level"] == "campaign"
    assert params["time_increment"] == "1"
    assert set(params["fields"].split(",")) == {
        "campaign_id", "campaign_name", "spend", "clicks", "impressions"
    }  # fmt: skip
    assert json.loads(params["time_range"]) == {"since": "2026-03-01", "until": "2026-03-31"}
    with pytest.raises(ValueError, match="after"):
        insights_params(date(2026, 3, 2), date(2026, 3, 1))


def test_insights_query_asks_for_objects_of_every_status():
    # account insights leave deleted and archived objects out unless a filter names them
    (status_filter,) = json.loads(insights_params(date(2026, 3, 1), date(2026, 3, 31))["filtering"])
    assert (status_filter["field"], status_filter["operator"]) == ("ad.effective_status", "IN")
    assert set(status_filter["value"]) == {
        "ACTIVE", "ADSET_PAUSED", "ARCHIVED", "CAMPAIGN_PAUSED", "DELETED", "DISAPPROVED",
        "IN_PROCESS", "PAUSED", "PENDING_BILLING_INFO", "PENDING_REVIEW", "PREAPPROVED",
        "WITH_ISSUES",
    }  # fmt: skip


# --- usage headers ----------------------------------------------------------------------


def test_golden_usage_headers():
    usage = read_usage(golden_headers())
    # the business use case budget is full; access returns in 19 minutes
    assert usage == Usage(100.0, "X-Business-Use-Case-Usage", 19 * 60)


def test_ad_account_reset_time_is_the_wait_when_no_business_estimate_is_given():
    headers = {"X-Ad-Account-Usage": golden_headers()["X-Ad-Account-Usage"]}
    assert read_usage(headers) == Usage(9.67, "X-Ad-Account-Usage", 100.0)


def test_unreadable_or_absent_usage_headers_are_ignored():
    assert read_usage({}) is None
    assert read_usage({"X-App-Usage": "not json", "X-Ad-Account-Usage": "[1, 2]"}) is None
    headers = {"X-App-Usage": "{oops", "X-FB-Ads-Insights-Throttle": '{"acc_id_util_pct": 80}'}
    assert read_usage(headers) == Usage(80.0, "X-FB-Ads-Insights-Throttle", None)


@pytest.mark.parametrize(
    ("percent", "regain", "pause"),
    [
        (10.0, None, 0.0),
        (74.9, None, 0.0),
        (75.0, None, 0.0),
        (90.0, None, 36.0),  # linear: 60 s x (90 - 75) / 25
        (99.0, None, 57.6),
        (100.0, None, 60.0),
        (100.0, 1140.0, 1140.0),  # full: wait as long as Meta announces
    ],
)
def test_slowdown_policy(percent: float, regain: float | None, pause: float):
    assert slowdown_seconds(Usage(percent, "X-App-Usage", regain)) == pytest.approx(pause)


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("golden", "status"),
    [
        ("meta_ads_error_user_request_limit.json", 400),
        ("meta_ads_error_too_many_calls_80004.json", 400),
        ("meta_ads_error_application_limit.json", 403),
    ],
)
def test_throttling_is_retried_after_the_announced_wait(golden: str, status: int, caplog):
    throttled = answer(status, golden_json(golden), golden_headers())
    assert meta_retry_hint(throttled) == 19 * 60
    # without usage headers the shared client backs off on its own
    assert meta_retry_hint(answer(status, golden_json(golden))) is None
    assert "throttled" in caplog.text
    assert golden_json(golden)["error"]["fbtrace_id"] in caplog.text


def test_transient_and_server_errors_are_retried():
    transient = {"error": {"message": "An unknown error occurred", "code": 1, "is_transient": True}}
    assert meta_retry_hint(answer(500, transient)) is None
    assert meta_retry_hint(answer(400, {"error": {"code": 2, "message": "Service"}})) is None
    assert meta_retry_hint(answer(503, b"<html>unavailable</html>")) is None


def test_invalid_token_fails_at_once_naming_code_subcode_and_trace():
    error_body = golden_json("meta_ads_error_handling_docs_example.json")
    with pytest.raises(MetaApiError) as raised:
        meta_retry_hint(answer(400, error_body))
    error = raised.value
    assert (error.status, error.code, error.subcode, error.fbtrace_id) == (
        400,
        190,
        460,
        "EJplcsCHuLu",
    )
    message = str(error.for_account("1029384756123"))
    for part in ("meta_ads", "account 1029384756123", "GET /v27.0/act_1029384756123/insights",
                 "error code 190", "subcode 460", "OAuthException", "EJplcsCHuLu",
                 "Message describing the error"):  # fmt: skip
        assert part in message


def test_too_much_data_is_not_retried_and_says_what_to_do(caplog):
    body = golden_json("meta_ads_error_too_much_data.json")
    with pytest.raises(MetaTooMuchDataError) as raised:
        meta_retry_hint(answer(500, body))
    error = raised.value.for_account("1029384756123")
    assert isinstance(error, MetaTooMuchDataError)
    message = str(error)
    for part in ("account 1029384756123", "error code 1", "subcode 99", "AxQ7mR2cVb9Lw",
                 "reduce the amount of data you're asking for", "async report run",
                 "shorter ranges"):  # fmt: skip
        assert part in message
    assert "temporary error" not in caplog.text  # not taken for a transient code 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        # the phrase in `message`, no subcode (as other public clients quote it)
        (500, {"code": 1, "message": "Please reduce the amount of data you're asking for"}),
        (400, {"code": 100, "error_subcode": 2335012, "error_user_msg": "Please reduce the "
               "amount of data you're asking for, then retry your request"}),
        # the subcode alone
        (500, {"code": 1, "error_subcode": 99, "message": "An unknown error occurred"}),
    ],
)  # fmt: skip
def test_too_much_data_is_recognised_in_its_other_shapes(status: int, error: dict[str, Any]):
    with pytest.raises(MetaTooMuchDataError):
        meta_retry_hint(answer(status, {"error": error}))


@pytest.mark.parametrize("code", [100, 10, 200, 272])
def test_parameter_and_permission_errors_are_not_retried(code: int):
    body = {"error": {"message": f"(#{code}) no", "type": "OAuthException", "code": code}}
    with pytest.raises(MetaApiError, match=f"error code {code}"):
        meta_retry_hint(answer(400, body))


def test_an_error_answer_without_graph_error_object_fails_at_once():
    with pytest.raises(SourceAuthError, match="no Graph error object"):
        meta_retry_hint(answer(403, b"Forbidden by proxy"))
    with pytest.raises(SourceHttpError, match="HTTP 400 and no Graph error object"):
        meta_retry_hint(answer(400, {"message": "not Graph's shape"}))


def test_golden_files_exist_for_every_payload_named_in_the_readme():
    readme = (GOLDEN / "README.md").read_text(encoding="utf-8")
    for path in GOLDEN.glob("meta_ads_*"):
        assert f"`{path.name}`" in readme


@pytest.mark.parametrize(("answered", "run_id"), [(6023920149050, "6023920149050"), ("77", "77")])
def test_report_run_id_as_number_or_string(server: ScriptedServer, answered: Any, run_id: str):
    server.script("/v27.0/act_1/insights", [Reply(200, {"report_run_id": answered})])
    client = scripted_client(server)
    assert submit_report_run(client, "1", {"level": "campaign"}) == run_id
    (received,) = server.requests
    assert (received.method, received.query["level"]) == ("POST", ["campaign"])
    assert received.headers["Authorization"] == "Bearer token-for-scripted-server"


def test_a_report_run_answer_without_id_is_refused(server: ScriptedServer):
    server.script("/v27.0/act_1/insights", [Reply(200, {"id": "act_1"})])
    client = scripted_client(server)
    with pytest.raises(SourceResponseError, match=r"account 1: .* without a report_run_id"):
        submit_report_run(client, "1", {})
