"""The extractors against the sandbox servers (an independent implementation of the same
wire formats): expected numbers come from the generated dataset, never from the client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import FakeClock

from extract.amocrm import extract_amocrm
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy, SourceAuthError
from extract.landing import RawLanding
from extract.schemas import SCHEMAS
from extract.yandex_direct import extract_yandex_direct, yandex_retry_hint
from sandbox import Dataset, generate, start_amocrm, start_yandex_direct

TOKEN = "sandbox-token-for-tests"
WINDOW_FROM = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_TO = datetime(2026, 7, 2, tzinfo=UTC)  # the dataset ends on 2026-06-30
FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2026, 6, 30)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(seed=7, n_leads=120)


@pytest.fixture
def amocrm(dataset: Dataset) -> Iterator[str]:
    # A generous limit: pacing against the real 7/s is its own test below.
    server = start_amocrm(dataset, token=TOKEN, max_requests_per_second=1000)
    yield server
    server.stop()


@pytest.fixture
def yandex(dataset: Dataset) -> Iterator[str]:
    server = start_yandex_direct(
        dataset, token=TOKEN, client_login=dataset.client_login, polls_before_ready=2
    )
    yield server
    server.stop()


def fake_time_client(source: str, url: str, clock: FakeClock, **options) -> HttpClient:
    """A client whose retry waits land on `clock` and whose pacing runs on a clock of its own."""
    pacing = FakeClock()
    return HttpClient(
        source,
        base_url=url,
        token=TOKEN,
        pacer=Pacer(1000, 1.0, clock=pacing.monotonic, sleep=pacing.sleep),
        retry=RetryPolicy(max_attempts=4),
        sleep=clock.sleep,
        **options,
    )


def extract_all_of_amocrm(url: str, landing: RawLanding, client: HttpClient, page_size: int):
    return extract_amocrm(
        SourceConnection(url, TOKEN),
        landing,
        updated_from=WINDOW_FROM,
        updated_to=WINDOW_TO,
        page_size=page_size,
        client=client,
    )


def landed(landing: RawLanding, entity: str) -> list[dict]:
    return pq.read_table(landing.entity_dir(entity)).to_pylist()


def test_amocrm_lands_the_whole_dataset_across_many_small_pages(
    tmp_path: Path, amocrm, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "amocrm", "manual")
    client = fake_time_client("amocrm", amocrm.url, clock)
    counts = extract_all_of_amocrm(amocrm.url, landing, client, page_size=25)

    statuses = sum(len(p["_embedded"]["statuses"]) for p in dataset.pipelines)
    assert counts == {
        "statuses": statuses,
        "loss_reasons": len(dataset.loss_reasons),
        "leads": len(dataset.leads),
        "contacts": len(dataset.contacts),
        "status_changes": len(dataset.events),
    }
    assert landing.quarantined == {}  # every sandbox record passes the golden-tested parsers
    for entity in counts:
        table = pq.read_table(landing.entity_dir(entity))
        assert table.schema.equals(SCHEMAS[("amocrm", entity)])
    # many pages: one file per page of 25
    assert len(list(landing.entity_dir("leads").glob("part-*.parquet"))) >= len(dataset.leads) // 25

    leads = {row["lead_id"]: row for row in landed(landing, "leads")}
    for lead in dataset.leads:
        row = leads[lead["id"]]
        assert row["is_deleted"] == bool(lead["is_deleted"])
        if not lead["is_deleted"]:
            assert (row["price"], row["status_id"]) == (lead["price"], lead["status_id"])
            expected_contacts = [c["id"] for c in lead["_embedded"]["contacts"]]
            assert [c["contact_id"] for c in row["contacts"]] == expected_contacts
    phones = {row["contact_id"]: row["phones"] for row in landed(landing, "contacts")}
    for contact in dataset.contacts:
        wire = [
            (value["value"], value["enum_code"])
            for field in contact["custom_fields_values"] or []
            if field["field_code"] == "PHONE"
            for value in field["values"]
        ]
        assert [(p["value"], p["enum_code"]) for p in phones[contact["id"]]] == wire
    changes = {row["event_id"]: row for row in landed(landing, "status_changes")}
    for event in dataset.events:
        after = event["value_after"][0]["lead_status"]
        row = changes[event["id"]]
        assert (row["lead_id"], row["status_id_after"]) == (event["entity_id"], after["id"])


def test_amocrm_window_outside_the_data_lands_nothing_but_the_dictionaries(
    tmp_path: Path, amocrm, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "amocrm", "manual")
    counts = extract_amocrm(
        SourceConnection(amocrm.url, TOKEN),
        landing,
        updated_from=datetime(2030, 1, 1, tzinfo=UTC),
        updated_to=datetime(2030, 1, 2, tzinfo=UTC),
        client=fake_time_client("amocrm", amocrm.url, clock),
    )
    assert (counts["leads"], counts["contacts"], counts["status_changes"]) == (0, 0, 0)
    assert counts["statuses"] > 0


def test_amocrm_injected_429_and_500_are_retried(
    tmp_path: Path, amocrm, dataset: Dataset, clock: FakeClock
):
    amocrm.inject("/api/v4/leads", [429, 500])
    landing = RawLanding(tmp_path, "amocrm", "manual")
    client = fake_time_client("amocrm", amocrm.url, clock)
    counts = extract_all_of_amocrm(amocrm.url, landing, client, page_size=250)
    assert counts["leads"] == len(dataset.leads)
    assert len(clock.sleeps) == 2  # one wait per injected failure


def test_amocrm_rejects_a_wrong_token_with_a_clear_error(tmp_path: Path, amocrm, clock: FakeClock):
    wrong = "not-the-sandbox-token"
    client = HttpClient(
        "amocrm",
        base_url=amocrm.url,
        token=wrong,
        pacer=Pacer(1000, 1.0, clock=clock.monotonic, sleep=clock.sleep),
        sleep=clock.sleep,
    )
    with pytest.raises(SourceAuthError) as raised:
        extract_all_of_amocrm(amocrm.url, RawLanding(tmp_path, "amocrm", "manual"), client, 250)
    assert "amocrm: HTTP 401" in str(raised.value) and wrong not in str(raised.value)
    assert amocrm.request_count == 1


def test_amocrm_paced_at_its_real_limit_never_hits_429(tmp_path: Path, dataset: Dataset):
    server = start_amocrm(dataset, token=TOKEN, max_requests_per_second=7)
    try:
        client = HttpClient(
            "amocrm",
            base_url=server.url,
            token=TOKEN,
            pacer=Pacer(7, 1.0),  # real time: about 1.5 s for the requests below
            retry=RetryPolicy(max_attempts=1),  # a 429 would fail the run
        )
        for _ in range(10):
            client.request("GET", "/api/v4/leads/pipelines")
        assert server.request_count == 10
    finally:
        server.stop()


def test_yandex_report_polls_then_lands_costs_converted_from_micros(
    tmp_path: Path, yandex, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "yandex_direct", "manual")
    counts = extract_yandex_direct(
        SourceConnection(yandex.url, TOKEN),
        landing,
        date_from=FIRST_DAY,
        date_to=LAST_DAY,
        client_login=dataset.client_login,
        currency="RUB",
        time_zone="Europe/Moscow",
        include_vat=False,
        batch_size=400,
        client=fake_time_client("yandex_direct", yandex.url, clock, retry_hint=yandex_retry_hint),
    )
    assert counts == {"campaign_stats": len(dataset.ad_stats)}
    assert landing.quarantined == {}
    assert yandex.request_count == 4  # 201, 202, 202, then 200
    assert clock.sleeps == [1.0, 1.0, 1.0]  # retryIn of each 201/202
    rows = landed(landing, "campaign_stats")
    assert sum(r["cost"] for r in rows) == sum(Decimal(s["Cost"]) for s in dataset.ad_stats) / (
        Decimal(1_000_000)
    )
    assert sum(r["clicks"] for r in rows) == sum(s["Clicks"] for s in dataset.ad_stats)
    assert sum(r["impressions"] for r in rows) == sum(s["Impressions"] for s in dataset.ad_stats)
    by_key = {(r["date"].isoformat(), r["campaign_id"]): r for r in rows}
    for stat in dataset.ad_stats[:50]:
        row = by_key[(stat["Date"], stat["CampaignId"])]
        assert row["cost"] * 1_000_000 == stat["Cost"]
        assert row["campaign_name"] == stat["CampaignName"]
    assert {(r["account"], r["currency"], r["includes_vat"]) for r in rows} == {
        (dataset.client_login, "RUB", False)
    }
    assert len(list(landing.entity_dir("campaign_stats").glob("part-*.parquet"))) == -(
        -len(dataset.ad_stats) // 400
    )
