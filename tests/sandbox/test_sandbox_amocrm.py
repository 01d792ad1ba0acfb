"""The amoCRM sandbox speaks API v4 as shared/API_NOTES.md describes it."""

import math
from typing import Any

import pytest
import requests

from sandbox import Dataset, RunningServer, start_amocrm
from sandbox.amocrm import SlidingWindowLimiter

Json = dict[str, Any]


def _walk(http: requests.Session, url: str, key: str) -> list[Json]:
    """Every record of a listing, following `_links.next` from `url`."""
    records: list[Json] = []
    next_url: str | None = url
    while next_url:
        response = http.get(next_url, timeout=5)
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["_embedded"][key]
        next_url = body["_links"].get("next", {}).get("href")
    return records


def _live_leads(dataset: Dataset) -> list[Json]:
    return [lead for lead in dataset.leads if not lead["is_deleted"]]


def test_requests_without_the_right_token_are_refused(amocrm: RunningServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.get(f"{amocrm.url}/api/v4/leads", headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == 401


def test_leads_page_by_next_links_to_the_last_page(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    first = http.get(f"{amocrm.url}/api/v4/leads", params={"limit": 50}, timeout=5)
    assert first.headers["Content-Type"] == "application/hal+json"
    assert first.json()["_page"] == 1
    leads = _walk(http, first.url, "leads")
    assert [lead["id"] for lead in leads] == sorted(lead["id"] for lead in _live_leads(small))
    last_page = math.ceil(len(leads) / 50)
    last = http.get(f"{amocrm.url}/api/v4/leads", params={"limit": 50, "page": last_page})
    assert last.json()["_page"] == last_page
    assert "next" not in last.json()["_links"]


def test_a_page_past_the_end_is_204_with_no_body(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    past_end = len(small.leads) // 250 + 2
    response = http.get(f"{amocrm.url}/api/v4/leads", params={"limit": 250, "page": past_end})
    assert response.status_code == 204
    assert response.content == b""


def test_limit_above_250_is_refused(amocrm: RunningServer, http: requests.Session) -> None:
    assert http.get(f"{amocrm.url}/api/v4/leads", params={"limit": 250}).status_code == 200
    response = http.get(f"{amocrm.url}/api/v4/leads", params={"limit": 251})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "limit" in response.json()["detail"]


def test_unsupported_parameters_are_refused_not_ignored(
    amocrm: RunningServer, http: requests.Session
) -> None:
    for params in (
        {"filter[pipeline_id]": "1"},
        {"with": "catalog_elements"},
        {"order[name]": "asc"},
    ):
        assert http.get(f"{amocrm.url}/api/v4/leads", params=params).status_code == 400
    assert http.get(f"{amocrm.url}/api/v4/nothing_here").status_code == 404


def test_contacts_and_loss_reasons_are_embedded_only_on_request(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    url = f"{amocrm.url}/api/v4/leads"
    plain = _walk(http, f"{url}?limit=250", "leads")
    assert all("contacts" not in lead["_embedded"] for lead in plain)
    assert all("loss_reason" not in lead["_embedded"] for lead in plain)
    rich = _walk(http, f"{url}?limit=250&with=contacts,loss_reason", "leads")
    stored = {lead["id"]: lead for lead in small.leads}
    reasons = {reason["id"]: reason["name"] for reason in small.loss_reasons}
    for lead in rich:
        contacts = [{"id": c["id"], "is_main": c["is_main"]} for c in lead["_embedded"]["contacts"]]
        assert contacts == stored[lead["id"]]["_embedded"]["contacts"]
        if lead["loss_reason_id"] is not None:
            [reason] = lead["_embedded"]["loss_reason"]
            assert reason["name"] == reasons[lead["loss_reason_id"]]


def test_only_deleted_lists_deleted_leads_only(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    deleted = _walk(http, f"{amocrm.url}/api/v4/leads?with=only_deleted&limit=250", "leads")
    planted = {lead_id for lead_id, truth in small.truth.items() if truth.is_deleted}
    assert {lead["id"] for lead in deleted} == planted
    assert all(lead["is_deleted"] for lead in deleted)


def test_updated_at_range_is_inclusive_and_ordered(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    times = sorted(lead["updated_at"] for lead in _live_leads(small))
    low, high = times[len(times) // 4], times[len(times) // 2]
    url = (
        f"{amocrm.url}/api/v4/leads?filter[updated_at][from]={low}"
        f"&filter[updated_at][to]={high}&order[updated_at]=asc&limit=20"
    )
    leads = _walk(http, url, "leads")
    expected = {lead["id"] for lead in _live_leads(small) if low <= lead["updated_at"] <= high}
    assert {lead["id"] for lead in leads} == expected
    keys = [(lead["updated_at"], lead["id"]) for lead in leads]
    assert keys == sorted(keys)
    assert keys[0][0] == low
    assert keys[-1][0] == high


def test_scalar_updated_at_filter_finds_nothing_as_on_the_real_api(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    unused = max(lead["updated_at"] for lead in small.leads) + 1
    response = http.get(f"{amocrm.url}/api/v4/leads?filter[updated_at]={unused}")
    assert response.status_code == 204


def test_contacts_page_and_filter_by_updated_at(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    middle = sorted(contact["updated_at"] for contact in small.contacts)[len(small.contacts) // 2]
    url = f"{amocrm.url}/api/v4/contacts?filter[updated_at][from]={middle}&limit=30"
    contacts = _walk(http, url, "contacts")
    expected = {contact["id"] for contact in small.contacts if contact["updated_at"] >= middle}
    assert {contact["id"] for contact in contacts} == expected
    phones = [c for c in contacts if c["custom_fields_values"]]
    assert phones
    assert phones[0]["custom_fields_values"][0]["field_code"] == "PHONE"


def test_pipelines_carry_their_statuses_with_won_and_lost(
    amocrm: RunningServer, http: requests.Session
) -> None:
    body = http.get(f"{amocrm.url}/api/v4/leads/pipelines").json()
    pipelines = body["_embedded"]["pipelines"]
    assert len(pipelines) == 2
    for pipeline in pipelines:
        statuses = pipeline["_embedded"]["statuses"]
        assert {142, 143} <= {status["id"] for status in statuses}
        for status in statuses:
            assert status.keys() >= {"id", "name", "sort", "is_editable", "pipeline_id", "type"}
            assert status["pipeline_id"] == pipeline["id"]


def test_loss_reasons_are_listed(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    body = http.get(f"{amocrm.url}/api/v4/leads/loss_reasons").json()
    listed = body["_embedded"]["loss_reasons"]
    assert {(r["id"], r["name"]) for r in listed} == {
        (r["id"], r["name"]) for r in small.loss_reasons
    }
    assert len(listed) == 5


def test_status_events_filter_by_type_and_creation_range(
    amocrm: RunningServer, http: requests.Session, small: Dataset
) -> None:
    low, high = 1_770_000_000, 1_775_000_000  # 2026-02-02 .. 2026-03-31
    url = (
        f"{amocrm.url}/api/v4/events?filter[type]=lead_status_changed"
        f"&filter[created_at][from]={low}&filter[created_at][to]={high}&limit=100"
    )
    events = _walk(http, url, "events")
    expected = {event["id"] for event in small.events if low <= event["created_at"] <= high}
    assert len(expected) > 100  # so the walk crossed pages
    assert {event["id"] for event in events} == expected
    event = events[0]
    assert isinstance(event["id"], str)
    assert event["type"] == "lead_status_changed"
    assert event["entity_type"] == "lead"
    assert event["value_after"][0]["lead_status"].keys() == {"id", "pipeline_id"}
    assert event["value_before"][0]["lead_status"].keys() == {"id", "pipeline_id"}


def test_events_limit_above_100_is_refused(amocrm: RunningServer, http: requests.Session) -> None:
    assert http.get(f"{amocrm.url}/api/v4/events?limit=101").status_code == 400


def test_no_matching_events_is_204(amocrm: RunningServer, http: requests.Session) -> None:
    url = f"{amocrm.url}/api/v4/events"
    before_history = http.get(f"{url}?filter[created_at][to]=1600000000")
    other_type = http.get(f"{url}?filter[type]=incoming_call")
    assert (before_history.status_code, other_type.status_code) == (204, 204)
    assert before_history.content == other_type.content == b""


def test_more_than_7_requests_within_a_second_get_429(small: Dataset, token: str) -> None:
    with start_amocrm(small, token=token) as server, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        url = f"{server.url}/api/v4/leads/loss_reasons"
        responses = [http.get(url, timeout=5) for _ in range(12)]
    statuses = [response.status_code for response in responses]
    assert statuses[:7] == [200] * 7
    assert 429 in statuses[7:]
    refused = responses[statuses.index(429)]
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["status"] == 429


def test_the_rate_window_slides_with_time() -> None:
    now = 0.0
    limiter = SlidingWindowLimiter(7, clock=lambda: now)
    admitted = []
    for tenth in range(8):  # 0.0 .. 0.7 s
        now = tenth / 10
        admitted.append(limiter.admit())
    assert admitted == [True] * 7 + [False]
    now = 1.0  # the request at 0.0 s has left the window
    assert limiter.admit()
    now = 1.05
    assert not limiter.admit()
    now = 1.1
    assert limiter.admit()


def test_injected_faults_answer_in_order_then_the_server_recovers(
    amocrm: RunningServer, http: requests.Session
) -> None:
    amocrm.inject("/api/v4/events", [429, 500, 503])
    assert http.get(f"{amocrm.url}/api/v4/leads").status_code == 200  # other paths unaffected
    responses = [http.get(f"{amocrm.url}/api/v4/events") for _ in range(4)]
    assert [response.status_code for response in responses] == [429, 500, 503, 200]
    assert responses[0].headers["Retry-After"] == "1"
    for response in responses[:3]:
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code


def test_request_count_counts_refused_requests_too(amocrm: RunningServer) -> None:
    requests.get(f"{amocrm.url}/api/v4/leads", timeout=5)  # 401
    requests.get(f"{amocrm.url}/api/v4/leads", timeout=5)
    assert amocrm.request_count == 2


def test_a_stopped_server_refuses_connections(small: Dataset) -> None:
    with start_amocrm(small) as server:
        url = f"{server.url}/api/v4/leads"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
