"""The Meta Ads sandbox speaks the Marketing API insights as shared/API_NOTES.md describes
it, checked with plain requests (no code of extract/)."""

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox import Dataset, RunningServer
from sandbox.generator import META_ADS_ACCOUNT, META_ADS_CAMPAIGNS
from sandbox.meta_ads import THROTTLE_REGAIN_MINUTES, TOO_MUCH_DATA, start_meta_ads

TOKEN = "test-token"  # the `http` fixture's bearer token
ACT = f"act_{META_ADS_ACCOUNT.account_id}"
MARCH = {"since": "2026-03-01", "until": "2026-03-31"}
FIELDS = "campaign_id,campaign_name,spend,clicks,impressions"
LEADS, RETARGETING = (campaign.id for campaign in META_ADS_CAMPAIGNS)


def _query(**overrides: str) -> dict[str, str]:
    query = {
        "level": "campaign",
        "time_increment": "1",
        "fields": FIELDS,
        "time_range": json.dumps(MARCH),
    }
    return query | overrides


def _expected(dataset: Dataset, since: str, until: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The dataset's rows of the range by (day, campaign id), metrics as integers."""
    return {
        (row["Date"], str(row["CampaignId"])): row
        for row in dataset.meta_ads_stats
        if since <= row["Date"] <= until
    }


def _error(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "code", "fbtrace_id"} <= body["error"].keys()
    return body["error"]


@pytest.fixture
def meta(small: Dataset) -> Iterator[RunningServer]:
    with start_meta_ads(small, token=TOKEN, page_size=10, polls_before_ready=2) as server:
        yield server


def test_ad_account_node(meta: RunningServer, http: requests.Session):
    response = http.get(
        f"{meta.url}/v27.0/{ACT}", params={"fields": "account_id,currency,timezone_name"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "account_id": META_ADS_ACCOUNT.account_id,
        "currency": "EUR",
        "timezone_name": META_ADS_ACCOUNT.time_zone,
        "id": ACT,
    }


def test_insights_pages_by_following_next_links(
    meta: RunningServer, small: Dataset, http: requests.Session
):
    expected = _expected(small, MARCH["since"], MARCH["until"])
    url: str | None = f"{meta.url}/v27.0/{ACT}/insights"
    params: dict[str, str] | None = _query()
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    pages = 0
    while url is not None:
        # `next` embeds the token, as Meta's links do: follow it without our header
        response = (
            requests.get(url, params=params, timeout=5) if pages else http.get(url, params=params)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        for record in body["data"]:
            assert record["date_start"] == record["date_stop"]
            seen[(record["date_start"], record["campaign_id"])] = record
        assert len(body["data"]) <= 10
        url, params, pages = body["paging"].get("next"), None, pages + 1
        if url is not None:
            assert parse_qs(urlsplit(url).query)["access_token"] == [TOKEN]
            assert body["paging"]["cursors"]["after"]
    assert pages == -(-len(expected) // 10)
    assert seen.keys() == expected.keys()
    for key, record in seen.items():
        row = expected[key]
        assert record["campaign_name"] == row["CampaignName"]
        assert (record["impressions"], record["clicks"]) == (
            str(row["Impressions"]),
            str(row["Clicks"]),
        )
        # spend: a decimal string of the account currency, exactly the micros / 1e6
        assert isinstance(record["spend"], str)
        assert Decimal(record["spend"]) * 1_000_000 == row["Cost"]


def test_spend_is_written_as_meta_writes_it(meta: RunningServer, http: requests.Session):
    body = http.get(f"{meta.url}/v27.0/{ACT}/insights", params=_query(limit="10")).json()
    for record in body["data"]:
        assert "e" not in record["spend"].lower()
        assert not (record["spend"].endswith("0") and "." in record["spend"])


def test_a_range_without_rows_answers_an_empty_list(meta: RunningServer, http: requests.Session):
    time_range = json.dumps({"since": "2030-01-01", "until": "2030-01-02"})
    body = http.get(f"{meta.url}/v27.0/{ACT}/insights", params=_query(time_range=time_range))
    assert body.json() == {"data": []}


@pytest.mark.parametrize(
    "change",
    [
        {"level": "ad"},
        {"time_increment": "7"},
        {"fields": "campaign_id,reach"},
        {"breakdowns": "age"},
        {"time_range": "last_30d"},
        {"after": "not-a-cursor"},
    ],
)
def test_unimplemented_query_is_refused_with_code_100(
    meta: RunningServer, http: requests.Session, change: dict[str, str]
):
    response = http.get(f"{meta.url}/v27.0/{ACT}/insights", params=_query(**change))
    assert response.status_code == 400
    assert _error(response)["code"] == 100


def _status_filter(field: str, operator: str, *statuses: str) -> str:
    return json.dumps([{"field": field, "operator": operator, "value": list(statuses)}])


def _campaigns(response: requests.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {record["campaign_id"] for record in response.json()["data"]}


@pytest.mark.parametrize("status", ["DELETED", "ARCHIVED"])
def test_deleted_and_archived_campaigns_are_served_only_when_a_filter_asks(
    small: Dataset, http: requests.Session, status: str
):
    with start_meta_ads(
        small, token=TOKEN, page_size=500, campaign_statuses={RETARGETING: status}
    ) as server:
        url = f"{server.url}/v27.0/{ACT}/insights"
        everything = {str(LEADS), str(RETARGETING)}
        assert _campaigns(http.get(url, params=_query())) == {str(LEADS)}
        every_status = _status_filter("ad.effective_status", "IN", "ACTIVE", status)
        assert _campaigns(http.get(url, params=_query(filtering=every_status))) == everything
        active_only = _status_filter("ad.effective_status", "IN", "ACTIVE")
        assert _campaigns(http.get(url, params=_query(filtering=active_only))) == {str(LEADS)}
        not_active = _status_filter("campaign.effective_status", "NOT_IN", "ACTIVE")
        assert _campaigns(http.get(url, params=_query(filtering=not_active))) == {str(RETARGETING)}
        # an async report run applies the filter of the query it was submitted with
        run_id = http.post(url, params=_query(filtering=every_status)).json()["report_run_id"]
        for _ in range(3):
            http.get(f"{server.url}/v27.0/{run_id}")
        rows = http.get(f"{server.url}/v27.0/{run_id}/insights", params={"limit": "500"})
        assert _campaigns(rows) == everything
    expected = _expected(small, MARCH["since"], MARCH["until"])
    assert len(rows.json()["data"]) == len(expected)


def test_a_paused_campaign_is_served_without_a_filter(small: Dataset, http: requests.Session):
    with start_meta_ads(small, token=TOKEN, campaign_statuses={RETARGETING: "PAUSED"}) as server:
        url = f"{server.url}/v27.0/{ACT}/insights"
        paused = _status_filter("ad.effective_status", "IN", "CAMPAIGN_PAUSED")
        assert _campaigns(http.get(url, params=_query(limit="500"))) == {
            str(LEADS),
            str(RETARGETING),
        }
        assert _campaigns(http.get(url, params=_query(filtering=paused))) == {str(RETARGETING)}


@pytest.mark.parametrize(
    "filtering",
    [
        "ad.effective_status IN ACTIVE",  # not JSON
        '{"field": "ad.effective_status", "operator": "IN", "value": ["ACTIVE"]}',  # no array
        '[{"field": "ad.effective_status", "value": ["ACTIVE"]}]',  # no operator
        '["ad.effective_status"]',
        _status_filter("delivery_info", "IN", "active"),
        _status_filter("ad.effective_status", "CONTAIN", "ACTIVE"),
        _status_filter("ad.effective_status", "IN"),  # no status
        _status_filter("ad.effective_status", "IN", "active"),  # statuses are upper case
        _status_filter("campaign.effective_status", "IN", "CAMPAIGN_PAUSED"),  # an ad's status
        '[{"field": "ad.effective_status", "operator": "IN", "value": [["ACTIVE"]]}]',
        '[{"field": ["ad"], "operator": "IN", "value": ["ACTIVE"]}]',
    ],
)
def test_a_malformed_filtering_is_refused_with_code_100(
    meta: RunningServer, http: requests.Session, filtering: str
):
    response = http.get(f"{meta.url}/v27.0/{ACT}/insights", params=_query(filtering=filtering))
    assert response.status_code == 400
    assert _error(response)["code"] == 100
    posted = http.post(f"{meta.url}/v27.0/{ACT}/insights", params=_query(filtering=filtering))
    assert (posted.status_code, _error(posted)["code"]) == (400, 100)


def test_an_unmodelled_campaign_status_is_refused_at_start(small: Dataset):
    with pytest.raises(ValueError, match="WITH_ISSUES"):
        start_meta_ads(small, campaign_statuses={LEADS: "WITH_ISSUES"})


def test_injected_too_much_data_answers_like_meta(meta: RunningServer, http: requests.Session):
    meta.inject(f"/v27.0/{ACT}/insights", [TOO_MUCH_DATA])
    url = f"{meta.url}/v27.0/{ACT}/insights"
    refused = http.get(url, params=_query())
    assert refused.status_code == 500
    error = _error(refused)
    assert (error["code"], error["error_subcode"], error["type"]) == (1, 99, "OAuthException")
    assert "reduce the amount of data you're asking for" in error["error_user_msg"]
    assert http.get(url, params=_query()).status_code == 200  # one fault, then served


def test_tokens_and_accounts(meta: RunningServer, http: requests.Session):
    url = f"{meta.url}/v27.0/{ACT}/insights"
    missing = requests.get(url, params=_query(), timeout=5)
    assert (missing.status_code, _error(missing)["code"]) == (400, 104)
    wrong = requests.get(
        url, params=_query(), headers={"Authorization": "Bearer nope-token"}, timeout=5
    )
    assert (wrong.status_code, _error(wrong)["code"], _error(wrong)["type"]) == (
        400,
        190,
        "OAuthException",
    )
    as_parameter = requests.get(url, params=_query(access_token=TOKEN), timeout=5)
    assert as_parameter.status_code == 200
    other = http.get(f"{meta.url}/v27.0/act_999/insights", params=_query())
    assert (_error(other)["code"], _error(other)["error_subcode"]) == (100, 33)


def test_async_report_run(meta: RunningServer, small: Dataset, http: requests.Session):
    first_half = {"since": "2026-01-01", "until": "2026-06-30"}
    posted = http.post(
        f"{meta.url}/v27.0/{ACT}/insights", params=_query(time_range=json.dumps(first_half))
    )
    run_id = posted.json()["report_run_id"]
    assert run_id.isdigit()
    rows_url = f"{meta.url}/v27.0/{run_id}/insights"
    statuses = []
    for _ in range(3):
        refused = http.get(rows_url)  # no rows before the run completes
        assert refused.status_code == 400
        run = http.get(f"{meta.url}/v27.0/{run_id}").json()
        assert run["id"] == run_id
        statuses.append((run["async_status"], run["async_percent_completion"]))
    assert [status for status, _ in statuses] == [
        "Job Not Started",
        "Job Running",
        "Job Completed",
    ]
    assert statuses[-1][1] == 100
    rows, url = [], rows_url
    while url:
        body = (requests.get(url, timeout=5) if rows else http.get(url)).json()
        rows += body["data"]
        url = body.get("paging", {}).get("next")
    expected = _expected(small, first_half["since"], first_half["until"])
    assert {(r["date_start"], r["campaign_id"]) for r in rows} == expected.keys()
    assert len(rows) == len(expected)


def test_failing_report_runs_end_in_job_failed(small: Dataset, http: requests.Session):
    with start_meta_ads(small, token=TOKEN, polls_before_ready=0, failing_report_runs=1) as server:
        statuses = []
        for _ in range(2):
            run_id = http.post(f"{server.url}/v27.0/{ACT}/insights", params=_query()).json()[
                "report_run_id"
            ]
            statuses.append(http.get(f"{server.url}/v27.0/{run_id}").json()["async_status"])
    assert statuses == ["Job Failed", "Job Completed"]


@pytest.mark.parametrize(("code", "status"), [(17, 400), (613, 400), (80004, 400), (4, 403)])
def test_injected_throttle_answers_like_meta(
    meta: RunningServer, http: requests.Session, code: int, status: int
):
    meta.inject(f"/v27.0/{ACT}/insights", [code])
    url = f"{meta.url}/v27.0/{ACT}/insights"
    throttled = http.get(url, params=_query())
    assert throttled.status_code == status  # never 429: the code is in the body
    error = _error(throttled)
    assert error["code"] == code
    assert error["message"].startswith(f"(#{code})")
    assert error["is_transient"] is True
    usage = json.loads(throttled.headers["X-Business-Use-Case-Usage"])
    (entry,) = usage[META_ADS_ACCOUNT.account_id]
    assert entry["call_count"] == 100
    assert entry["estimated_time_to_regain_access"] == THROTTLE_REGAIN_MINUTES
    assert http.get(url, params=_query()).status_code == 200  # one fault, then served


def test_business_use_case_throttle_codes_carry_meta_subcode(
    meta: RunningServer, http: requests.Session
):
    meta.inject("/v27.0/", [80000])
    error = _error(http.get(f"{meta.url}/v27.0/{ACT}", params={"fields": "currency"}))
    assert (error["code"], error["error_subcode"]) == (80000, 2446079)
    assert "too many calls from this ad-account" in error["message"]


def test_injected_server_error_has_meta_error_shape(meta: RunningServer, http: requests.Session):
    meta.inject("/v27.0/", [500, 503])
    first = http.get(f"{meta.url}/v27.0/{ACT}")
    second = http.get(f"{meta.url}/v27.0/{ACT}")
    assert (first.status_code, _error(first)["code"], _error(first)["is_transient"]) == (
        500,
        1,
        True,
    )
    assert (second.status_code, _error(second)["code"]) == (503, 2)


def test_every_answer_carries_usage_headers(meta: RunningServer, http: requests.Session):
    answers = [
        http.get(f"{meta.url}/v27.0/{ACT}"),
        http.get(f"{meta.url}/v27.0/{ACT}/insights", params=_query(level="adset")),
    ]
    for response in answers:
        for header in ("X-Business-Use-Case-Usage", "X-Ad-Account-Usage", "X-App-Usage"):
            assert isinstance(json.loads(response.headers[header]), dict)
        assert TOKEN not in str(response.headers)
