"""The sandbox's faults: scheduled by request number, transport failures as a client sees
them, Yandex reports kept unready or served as built, and an edit during a listing."""

from __future__ import annotations

import json

import pytest
import requests
from sync_testkit import TOKEN, Sandbox

from sandbox import Fault, move_lead_during_listing, seeded_faults

LEADS = "/api/v4/leads"
REPORTS = "/json/v5/reports"


def get(sandbox: Sandbox, path: str, **params: object) -> requests.Response:
    return requests.get(
        f"{sandbox.amocrm.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=(2, 0.3),
    )


def post_report(sandbox: Sandbox, name: str) -> requests.Response:
    params = {
        "SelectionCriteria": {"DateFrom": "2026-03-01", "DateTo": "2026-03-02"},
        "FieldNames": ["Date", "CampaignId", "Cost"],
        "ReportName": name,
        "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
        "DateRangeType": "CUSTOM_DATE",
        "Format": "TSV",
        "IncludeVAT": "NO",
    }
    return requests.post(
        f"{sandbox.yandex.url}{REPORTS}",
        data=json.dumps({"params": params}),
        headers={"Authorization": f"Bearer {TOKEN}", "skipReportHeader": "true"},
        timeout=5,
    )


def test_a_seeded_plan_replays_and_never_fails_more_requests_in_a_row_than_allowed() -> None:
    plan = seeded_faults(3, requests=500, share=0.6, kinds=[429, Fault.TIMEOUT], max_in_a_row=2)
    assert plan == seeded_faults(
        3, requests=500, share=0.6, kinds=[429, Fault.TIMEOUT], max_in_a_row=2
    )
    assert plan != seeded_faults(
        4, requests=500, share=0.6, kinds=[429, Fault.TIMEOUT], max_in_a_row=2
    )
    assert 200 < len(plan) < 400 and set(plan.values()) == {429, Fault.TIMEOUT}
    assert not any(n in plan and n + 1 in plan and n + 2 in plan for n in range(1, 501))


def test_scheduled_faults_count_requests_from_when_they_are_scheduled(sandbox: Sandbox) -> None:
    get(sandbox, "/api/v4/leads/pipelines")
    sandbox.amocrm.schedule({2: 503, 3: 429})
    statuses = [get(sandbox, "/api/v4/leads/pipelines").status_code for _ in range(4)]
    assert statuses == [200, 503, 429, 200]


def test_a_truncated_body_breaks_off_and_an_empty_one_is_never_answered(sandbox: Sandbox) -> None:
    sandbox.amocrm.inject(LEADS, [Fault.TRUNCATE])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sandbox, LEADS, limit=50)
    sandbox.amocrm.inject(LEADS, [Fault.TRUNCATE])
    with pytest.raises(requests.ConnectionError):
        get(sandbox, LEADS, **{"filter[id]": "1"})  # 204: nothing to cut
    assert get(sandbox, LEADS, limit=50).status_code == 200


def test_a_timeout_answers_only_after_the_client_gave_up(sandbox: Sandbox) -> None:
    sandbox.amocrm.stall_seconds = 0.6
    sandbox.amocrm.inject(LEADS, [Fault.TIMEOUT])
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(sandbox, LEADS)
    assert get(sandbox, LEADS).status_code == 200


def test_an_injected_202_keeps_a_report_unready_then_it_is_served_as_built(
    sandbox: Sandbox,
) -> None:
    assert post_report(sandbox, "r").status_code == 201  # polls_before_ready=0: ready next
    sandbox.yandex.inject(REPORTS, [202, 202])
    polls = [post_report(sandbox, "r") for _ in range(3)]
    assert [poll.status_code for poll in polls] == [202, 202, 200]
    assert polls[0].headers["retryIn"] == "0"
    for row in sandbox.dataset.ad_stats:
        row["Cost"] += 1_000_000  # restated after the report was built
    assert post_report(sandbox, "r").text == polls[2].text
    post_report(sandbox, "r2")
    assert post_report(sandbox, "r2").text != polls[2].text  # a new report sees the change


def test_a_lead_moves_just_before_the_nth_request_to_the_leads_list(sandbox: Sandbox) -> None:
    lead_id = sandbox.dataset.leads[0]["id"]
    move_lead_during_listing(
        sandbox.amocrm, sandbox.dataset, lead_id=lead_id, updated_at=1_900_000_000, before_request=2
    )
    get(sandbox, "/api/v4/contacts")  # other paths do not count
    first = get(sandbox, LEADS, **{"filter[id]": str(lead_id)}).json()
    second = get(sandbox, LEADS, **{"filter[id]": str(lead_id)}).json()
    assert first["_embedded"]["leads"][0]["updated_at"] != 1_900_000_000
    assert second["_embedded"]["leads"][0]["updated_at"] == 1_900_000_000
