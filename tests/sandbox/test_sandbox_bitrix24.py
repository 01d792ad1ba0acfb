"""The Bitrix24 sandbox speaks the REST wire format and plants the cases issue 7 names."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from sandbox import Dataset, Portal, RunningServer, generate_portal, start_bitrix24

CODE = "sandbox-webhook-code-91c"


@pytest.fixture(scope="module")
def portal(small: Dataset) -> Portal:
    return generate_portal(small)


@pytest.fixture
def bitrix24(small: Dataset, portal: Portal) -> Iterator[RunningServer]:
    with start_bitrix24(small, token=CODE, bucket_size=10_000, portal=portal) as server:
        yield server


def call(server: RunningServer, method: str, body: dict, code: str = CODE) -> requests.Response:
    return requests.post(f"{server.url}/rest/1/{code}/{method}", json=body, timeout=10)


def test_pages_of_50_with_next_absent_on_the_last(bitrix24: RunningServer, portal: Portal):
    history = portal.lead_history
    assert len(history) > 50
    first = call(bitrix24, "crm.stagehistory.list", {"entityTypeId": 1, "start": 0}).json()
    assert len(first["result"]["items"]) == 50
    assert (first["next"], first["total"]) == (50, len(history))
    last_start = (len(history) - 1) // 50 * 50
    last = call(bitrix24, "crm.stagehistory.list", {"entityTypeId": 1, "start": last_start})
    assert "next" not in last.json()
    assert len(last.json()["result"]["items"]) == len(history) - last_start


def test_phone_comes_only_when_named_in_select(bitrix24: RunningServer):
    plain = call(bitrix24, "crm.lead.list", {"select": ["*"]}).json()["result"][0]
    named = call(bitrix24, "crm.lead.list", {"select": ["ID", "PHONE"]}).json()["result"][0]
    assert "PHONE" not in plain and not any(k.startswith("UF_") for k in plain)
    assert isinstance(plain["OPPORTUNITY"], str) and plain["DATE_CREATE"].endswith("+03:00")
    assert set(named) == {"ID", "PHONE"}
    assert {"ID", "VALUE_TYPE", "VALUE", "TYPE_ID"} <= set(named["PHONE"][0])


def test_filters_compare_dates_with_their_offsets(bitrix24: RunningServer, portal: Portal):
    # 2026-03-01T00:00+03:00 is 2026-02-28T21:00 UTC: both spellings select the same leads.
    moscow = {">=DATE_CREATE": "2026-03-01T00:00:00+03:00"}
    utc = {">=DATE_CREATE": "2026-02-28T21:00:00+00:00"}
    ids = [
        [r["ID"] for r in call(bitrix24, "crm.lead.list", {"filter": f}).json()["result"]]
        for f in (moscow, utc)
    ]
    assert ids[0] == ids[1] and ids[0]


def test_wrong_webhook_code_is_refused(bitrix24: RunningServer):
    refused = call(bitrix24, "crm.lead.list", {}, code="not-the-code")
    assert refused.status_code == 401
    assert refused.json()["error"] == "INVALID_CREDENTIALS"


def test_an_unknown_filter_is_refused_not_ignored(bitrix24: RunningServer):
    refused = call(bitrix24, "crm.lead.list", {"filter": {">=NO_SUCH_FIELD": "1"}})
    assert refused.status_code == 400


def test_past_the_bucket_the_portal_answers_query_limit_exceeded(small: Dataset):
    with start_bitrix24(small, token=CODE, bucket_size=5, drain_per_second=0.001) as server:
        statuses = [call(server, "crm.status.list", {}).status_code for _ in range(6)]
        refused = call(server, "crm.status.list", {})
    assert statuses == [200] * 5 + [503]
    assert refused.json()["error"] == "QUERY_LIMIT_EXCEEDED"


def test_the_portal_plants_the_cases_of_issue_7(small: Dataset, portal: Portal):
    deals_per_lead = Counter(d["LEAD_ID"] for d in portal.deals if d["LEAD_ID"])
    junk = [lead for lead in portal.leads if lead["STATUS_ID"] == "JUNK"]
    assert any(n == 2 for n in deals_per_lead.values())  # a lead with two deals
    assert any(d["LEAD_ID"] is None for d in portal.deals)  # deals without a lead
    assert junk and all(lead["ID"] not in deals_per_lead for lead in junk)
    assert all(lead["STATUS_DESCRIPTION"] for lead in junk)  # the reason
    assert any(len(lead["PHONE"]) > 1 for lead in portal.leads)
    amocrm_phones = {
        value["value"]
        for contact in small.contacts
        for field in contact.get("custom_fields_values") or []
        if field["field_code"] == "PHONE"
        for value in field["values"]
    }
    bitrix_phones = {p["VALUE"] for lead in portal.leads for p in lead["PHONE"]}
    assert amocrm_phones & bitrix_phones  # cross-source duplicates
