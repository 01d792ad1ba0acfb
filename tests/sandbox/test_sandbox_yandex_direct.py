"""The Yandex Direct sandbox speaks Reports API v5 as shared/API_NOTES.md describes it."""

import re
from decimal import Decimal
from typing import Any

import requests

from sandbox import Dataset, RunningServer, start_yandex_direct

FIELDS = ["Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost"]
JANUARY = {"DateFrom": "2026-01-01", "DateTo": "2026-01-31"}


def _params(name: str, **overrides: Any) -> dict[str, Any]:
    params = {
        "SelectionCriteria": JANUARY,
        "FieldNames": FIELDS,
        "ReportName": name,
        "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
        "DateRangeType": "CUSTOM_DATE",
        "Format": "TSV",
        "IncludeVAT": "NO",
    }
    return params | overrides


def _post(
    server: RunningServer,
    http: requests.Session,
    params: dict[str, Any],
    **headers: str,
) -> requests.Response:
    headers = {"Client-Login": "playground-ads", **headers}
    return http.post(
        f"{server.url}/json/v5/reports", json={"params": params}, headers=headers, timeout=5
    )


def _report(
    server: RunningServer, http: requests.Session, params: dict[str, Any], **headers: str
) -> str:
    """Polls as a client must until the report is ready; the fixture needs no waiting."""
    for _ in range(5):
        response = _post(server, http, params, **headers)
        if response.status_code == 200:
            return response.text
        assert response.status_code in (201, 202), response.text
    raise AssertionError("the report never became ready")


def _data_rows(tsv: str) -> list[list[str]]:
    """The rows between the title and column rows and the total line."""
    lines = tsv.splitlines()
    assert lines[-1] == f"Total rows: {len(lines) - 3}"
    return [line.split("\t") for line in lines[2:-1]]


def _net_cost(dataset: Dataset, date_from: str, date_to: str) -> int:
    return sum(row["Cost"] for row in dataset.ad_stats if date_from <= row["Date"] <= date_to)


def test_an_offline_report_is_queued_then_building_then_ready(
    small: Dataset, http: requests.Session, token: str
) -> None:
    with start_yandex_direct(small, token=token, polls_before_ready=2, retry_in_seconds=3) as api:
        answers = [_post(api, http, _params("flow")) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [201, 202, 202, 200, 200]
    assert all(answer.headers["retryIn"] == "3" for answer in answers[:3])
    assert answers[3].text == answers[4].text
    lines = answers[3].text.splitlines()
    assert lines[0] == '"flow (2026-01-01 - 2026-01-31)"'
    assert lines[1] == "\t".join(FIELDS)
    assert len(_data_rows(answers[3].text)) > 0


def test_online_mode_answers_with_the_report_at_once(
    yandex: RunningServer, http: requests.Session
) -> None:
    response = _post(yandex, http, _params("online"), processingMode="online")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/tab-separated-values")


def test_rows_cover_only_the_requested_days(
    yandex: RunningServer, http: requests.Session, small: Dataset
) -> None:
    criteria = {"DateFrom": "2026-03-30", "DateTo": "2026-04-02"}
    rows = _data_rows(_report(yandex, http, _params("days", SelectionCriteria=criteria)))
    assert {row[0] for row in rows} == {"2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02"}
    in_range = [r for r in small.ad_stats if "2026-03-30" <= r["Date"] <= "2026-04-02"]
    assert len(rows) == len(in_range)


def test_cost_is_in_micros_unless_asked_for_currency_units(
    yandex: RunningServer, http: requests.Session, small: Dataset
) -> None:
    micros = _data_rows(_report(yandex, http, _params("micros")))
    units = _data_rows(_report(yandex, http, _params("units"), returnMoneyInMicros="false"))
    assert sum(int(row[5]) for row in micros) == _net_cost(small, "2026-01-01", "2026-01-31")
    for in_micros, in_units in zip(micros, units, strict=True):
        assert re.fullmatch(r"\d+\.\d{2}", in_units[5])
        assert Decimal(in_units[5]) == Decimal(in_micros[5]) / 1_000_000


def test_include_vat_adds_22_percent(
    yandex: RunningServer, http: requests.Session, small: Dataset
) -> None:
    net = _data_rows(_report(yandex, http, _params("net")))
    gross = _data_rows(_report(yandex, http, _params("gross", IncludeVAT="YES")))
    for net_row, gross_row in zip(net, gross, strict=True):
        assert abs(int(gross_row[5]) - int(net_row[5]) * 1.22) <= 1
        assert gross_row[:5] == net_row[:5]


def test_skip_headers_leave_only_the_data_rows(
    yandex: RunningServer, http: requests.Session
) -> None:
    skip = {"skipReportHeader": "true", "skipColumnHeader": "true", "skipReportSummary": "true"}
    lines = _report(yandex, http, _params("bare"), **skip).splitlines()
    assert lines
    for line in lines:
        cells = line.split("\t")
        assert len(cells) == len(FIELDS)
        assert re.fullmatch(r"2026-01-\d\d", cells[0])


def test_columns_follow_field_names_and_sum_over_days_left_out(
    yandex: RunningServer, http: requests.Session, small: Dataset
) -> None:
    tsv = _report(yandex, http, _params("per campaign", FieldNames=["Cost", "CampaignId"]))
    rows = _data_rows(tsv)
    expected: dict[str, int] = {}
    for row in small.ad_stats:
        if row["Date"] <= "2026-01-31":
            key = str(row["CampaignId"])
            expected[key] = expected.get(key, 0) + row["Cost"]
    assert {campaign_id: int(cost) for cost, campaign_id in rows} == expected


def _assert_error(response: requests.Response, status: int, code: int | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.keys() == {"request_id", "error_code", "error_string", "error_detail"}
    assert isinstance(error["error_code"], int)
    if code is not None:
        assert error["error_code"] == code


def test_malformed_requests_get_400_with_the_json_error_body(
    yandex: RunningServer, http: requests.Session
) -> None:
    cases = [
        _params("no start", SelectionCriteria={"DateTo": "2026-01-31"}),
        _params("unknown field", FieldNames=["Date", "Conversions"]),
        _params("other type", ReportType="SEARCH_QUERY_PERFORMANCE_REPORT"),
        _params("paged", Page={"Limit": 10}),
        {key: value for key, value in _params("no vat").items() if key != "IncludeVAT"},
    ]
    for params in cases:
        _assert_error(_post(yandex, http, params), 400)
    not_json = http.post(f"{yandex.url}/json/v5/reports", data=b"{", timeout=5)
    _assert_error(not_json, 400)


def test_reusing_a_report_name_with_other_parameters_is_refused(
    yandex: RunningServer, http: requests.Session
) -> None:
    assert _post(yandex, http, _params("nightly")).status_code == 201
    other_window = _params("nightly", SelectionCriteria={**JANUARY, "DateTo": "2026-01-30"})
    _assert_error(_post(yandex, http, other_window), 400)


def test_a_bad_token_or_unknown_client_is_refused(yandex: RunningServer) -> None:
    with requests.Session() as stranger:
        stranger.headers["Authorization"] = "Bearer wrong"
        _assert_error(_post(yandex, stranger, _params("no entry")), 403, code=53)
    with requests.Session() as anonymous:
        _assert_error(_post(yandex, anonymous, _params("no entry")), 403, code=53)


def test_an_unknown_client_login_is_refused(yandex: RunningServer, http: requests.Session) -> None:
    response = _post(yandex, http, _params("elsewhere"), **{"Client-Login": "someone-else"})
    _assert_error(response, 400)


def test_injected_server_errors_use_the_json_error_body(
    yandex: RunningServer, http: requests.Session
) -> None:
    yandex.inject("/json/v5/reports", [500, 502])
    _assert_error(_post(yandex, http, _params("faulty")), 500)
    _assert_error(_post(yandex, http, _params("faulty")), 502)
    assert _post(yandex, http, _params("faulty")).status_code == 201
