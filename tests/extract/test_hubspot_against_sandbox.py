"""The HubSpot extractor against the sandbox account (an independent implementation of the
wire format): expected numbers come from the account the test builds, never from the client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests
from extract_testkit import FakeClock, golden_json

from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy
from extract.hubspot import (
    SEARCH_PAGE_SIZE,
    extract_hubspot,
    parse_contact,
    parse_pipeline,
    search_modified,
    sweep_ids,
)
from extract.landing import RawLanding
from extract.schemas import SCHEMAS
from sandbox import generate
from sandbox.hubspot import Account, iso, start_hubspot, wire_record
from sandbox.hubspot_account import PERSONAS, generate_account

TOKEN = "pat-na1-sandbox-0001"
SEARCH_PATH = "/crm/v3/objects/contacts/search"
MAX_SEARCHES = 400  # the 10,050-contact listing needs about 100 pages of 200
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WINDOW = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
PIPELINE = {
    "id": "default",
    "label": "Sales Pipeline",
    "displayOrder": 0,
    "stages": [
        {"id": "new", "label": "New", "displayOrder": 0,
         "metadata": {"isClosed": "false", "probability": "0.1"}},
        {"id": "closedwon", "label": "Won", "displayOrder": 1,
         "metadata": {"isClosed": "true", "probability": "1.0"}},
    ],
}  # fmt: skip


def _contact(contact_id: int, modified: datetime) -> dict[str, Any]:
    properties = {
        "createdate": iso(T0 - timedelta(days=3)),
        "lastmodifieddate": iso(modified),
        "phone": f"+7912000{contact_id:04d}",
        "hs_analytics_source": "PAID_SEARCH",
    }
    return wire_record(str(contact_id), properties, T0 - timedelta(days=3), modified)


def _deal(deal_id: int, modified: datetime) -> dict[str, Any]:
    properties = {
        "createdate": iso(T0),
        "hs_lastmodifieddate": iso(modified),
        "pipeline": "default",
        "dealstage": "closedwon",
        "amount": "1200.50",
    }
    return wire_record(str(deal_id), properties, T0, modified)


def _account() -> Account:
    """Five contacts and two deals modified in the window, one contact before it, one
    archived contact and one archived deal; deal 901 has two contacts and a stage history."""
    account = Account(pipelines=[PIPELINE])
    for n in range(1, 6):
        account.contacts[str(n)] = _contact(n, T0 + timedelta(minutes=n))
    account.contacts["6"] = _contact(6, T0 - timedelta(days=2))
    account.contacts["7"] = _contact(7, T0 + timedelta(hours=1))
    account.archive("contacts", "7", T0 + timedelta(hours=2))
    for n in (901, 902, 903):
        account.deals[str(n)] = _deal(n, T0 + timedelta(hours=3))
    account.archive("deals", "903", T0 + timedelta(hours=4))
    account.deal_contacts["901"] = ["2", "1"]
    account.deal_stage_history["901"] = [
        {"value": "closedwon", "timestamp": iso(T0 + timedelta(hours=3)), "sourceType": "CRM_UI"},
        {"value": "new", "timestamp": iso(T0), "sourceType": "CRM_UI"},
    ]
    return account


def _client(url: str, *, sleep: Any = None) -> HttpClient:
    clock = FakeClock()
    return HttpClient(
        "hubspot",
        base_url=url,
        token=TOKEN,
        pacer=Pacer(1000, 1.0, clock=clock.monotonic, sleep=clock.sleep),
        retry=RetryPolicy(max_attempts=3),
        sleep=sleep or clock.sleep,
    )


def _extract(url: str, root: Path, **options: Any) -> tuple[RawLanding, dict[str, int]]:
    landing = RawLanding(root, "hubspot", "run-1")
    conn = SourceConnection(url, TOKEN)
    counts = extract_hubspot(
        conn, landing, updated_from=WINDOW[0], updated_to=WINDOW[1], client=_client(url),
        **options,
    )  # fmt: skip
    return landing, counts


def _landed(landing: RawLanding, entity: str) -> list[dict[str, Any]]:
    return pq.read_table(landing.entity_dir(entity)).to_pylist()


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with start_hubspot(_account(), token=TOKEN, search_per_second=10_000) as running:
        yield running


def test_window_lands_modified_records_links_history_and_archived(
    server: Any, tmp_path: Path
) -> None:
    landing, counts = _extract(server.url, tmp_path)
    contacts = {r["contact_id"]: r for r in _landed(landing, "contacts")}
    # 1-5 modified in the window, 7 archived; 6 was modified before the window.
    assert sorted(contacts) == [1, 2, 3, 4, 5, 7]
    assert contacts[7]["archived"] is True
    assert contacts[7]["archived_at"] == T0 + timedelta(hours=2)
    assert contacts[3]["properties"][0] == {"name": "hs_analytics_source", "value": "PAID_SEARCH"}
    deals = {r["deal_id"]: r for r in _landed(landing, "deals")}
    assert sorted(deals) == [901, 902, 903]
    assert deals[903]["archived"] is True
    links = {(r["deal_id"], r["contact_id"]) for r in _landed(landing, "deal_contacts")}
    assert links == {(901, 1), (901, 2)}
    history = {(r["stage_id"], r["changed_at"]) for r in _landed(landing, "stage_history")}
    assert history == {("new", T0), ("closedwon", T0 + timedelta(hours=3))}
    stages = [r["stage_id"] for r in _landed(landing, "stages")]
    assert stages == ["new", "closedwon"]
    for entity in counts:
        table = pq.read_table(landing.entity_dir(entity))
        assert table.schema.equals(SCHEMAS[("hubspot", entity)]), entity
    assert counts == {
        "stages": 2, "contacts": 6, "deals": 3, "deal_contacts": 2, "stage_history": 2,
    }  # fmt: skip


def test_sweep_lists_live_ids_only(server: Any, tmp_path: Path) -> None:
    landing = RawLanding(tmp_path, "hubspot", "run-1")
    counts = sweep_ids(SourceConnection(server.url, TOKEN), landing, client=_client(server.url))
    assert counts == {"contact_ids": 6, "deal_ids": 2}
    assert [r["contact_id"] for r in _landed(landing, "contact_ids")] == [1, 2, 3, 4, 5, 6]
    assert [r["deal_id"] for r in _landed(landing, "deal_ids")] == [901, 902]


def _crowded_account(n_contacts: int) -> Account:
    """`n_contacts` contacts sharing one modified time, stored in reverse id order so the
    sandbox's tie order is not the id order, and one contact a minute later."""
    account = Account(pipelines=[PIPELINE])
    same = T0 + timedelta(minutes=5, milliseconds=457)
    for n in range(n_contacts, 0, -1):
        account.contacts[str(n)] = _contact(n, same)
    last = n_contacts + 1
    account.contacts[str(last)] = _contact(last, same + timedelta(minutes=1))
    return account


@pytest.mark.parametrize(
    ("n_contacts", "cap", "page_size"), [(130, 100, 50), (10_050, 10_000, SEARCH_PAGE_SIZE)]
)
def test_search_cap_with_more_records_than_the_cap_sharing_one_timestamp(
    tmp_path: Path, n_contacts: int, cap: int, page_size: int
) -> None:
    account = _crowded_account(n_contacts)
    with start_hubspot(account, token=TOKEN, search_cap=cap, search_per_second=10_000) as srv:
        # A restart that does not advance would run forever: past far more searches than
        # the listing needs, empty the account, so such a client ends and fails below.
        srv.on_request(SEARCH_PATH, MAX_SEARCHES, account.contacts.clear)
        landing, counts = _extract(srv.url, tmp_path, page_size=page_size)
    ids = [r["contact_id"] for r in _landed(landing, "contacts")]
    assert len(ids) == len(set(ids))  # each once, though one time spans many pages
    assert set(ids) == set(range(1, n_contacts + 2))
    assert counts["contacts"] == n_contacts + 1


def _spread_account(n_contacts: int) -> Account:
    """`n_contacts` contacts modified a second apart, in id order."""
    account = Account(pipelines=[PIPELINE])
    for n in range(1, n_contacts + 1):
        account.contacts[str(n)] = _contact(n, T0 + timedelta(seconds=n))
    return account


@pytest.mark.parametrize(
    ("build", "n_contacts", "edited"),
    [
        pytest.param(_spread_account, 250, "1", id="distinct-times"),
        # Stored in reverse id order: 450 comes first of the 450 sharing one time.
        pytest.param(_crowded_account, 450, "450", id="one-time-over-pages"),
    ],
)
def test_a_record_edited_between_pages_pushes_no_other_past_the_reader(
    tmp_path: Path, build: Callable[[int], Account], n_contacts: int, edited: str
) -> None:
    """A contact of the first page is edited before the second page is asked for: its new
    modified date is past the window, so it leaves the results and every later contact
    moves up one place. Paging by offset then skips the contact that moved onto the first
    page; restarting each page from the last (modified date, id) read skips none."""
    account = build(n_contacts)
    every_id = set(range(1, len(account.contacts) + 1))

    def edit_past_the_window() -> None:
        account.edit("contacts", edited, WINDOW[1] + timedelta(hours=1))

    with start_hubspot(account, token=TOKEN, search_per_second=10_000) as srv:
        srv.on_request(SEARCH_PATH, 2, edit_past_the_window)
        landing, _ = _extract(srv.url, tmp_path)
    ids = [r["contact_id"] for r in _landed(landing, "contacts")]
    assert len(ids) == len(set(ids))
    assert set(ids) == every_id  # the edited one too: read on the first page


def test_a_record_edited_to_a_later_time_in_the_window_lands_again(tmp_path: Path) -> None:
    """Contact 200, the last of the first page, is edited to a later time still inside the
    window before the second page: the restart at its old time must not take its new
    version for the one already read."""
    account = _spread_account(250)
    later = T0 + timedelta(hours=1)
    with start_hubspot(account, token=TOKEN, search_per_second=10_000) as srv:
        srv.on_request(SEARCH_PATH, 2, lambda: account.edit("contacts", "200", later))
        landing, _ = _extract(srv.url, tmp_path)
    rows = _landed(landing, "contacts")
    versions = sorted(r["updated_at"] for r in rows if r["contact_id"] == 200)
    assert versions == [T0 + timedelta(seconds=200), later]
    assert {r["contact_id"] for r in rows} == set(range(1, 251))


def test_each_search_page_costs_one_request() -> None:
    """450 contacts at distinct times in pages of 200: a restart at the last time read
    re-reads the one contact at it, so three searches and no more (search is the scarce
    budget: a few requests a second)."""
    with start_hubspot(_spread_account(450), token=TOKEN, search_per_second=10_000) as srv:
        pages = list(search_modified(_client(srv.url), "contacts", [], *WINDOW))
        searches = srv.request_count
    assert searches == 3
    assert sorted(int(r["id"]) for page in pages for r in page.records) == list(range(1, 451))


def test_rate_limit_429_without_retry_after_is_retried(tmp_path: Path) -> None:
    with start_hubspot(_account(), token=TOKEN, search_per_second=10_000) as srv:
        srv.inject(SEARCH_PATH, [429])
        sleeps: list[float] = []
        landing = RawLanding(tmp_path, "hubspot", "run-1")
        conn = SourceConnection(srv.url, TOKEN)
        client = _client(srv.url, sleep=sleeps.append)
        extract_hubspot(conn, landing, updated_from=WINDOW[0], updated_to=WINDOW[1],
                        client=client)  # fmt: skip
    assert len(sleeps) == 1 and sleeps[0] > 0  # one backoff, then the search succeeded
    assert len(_landed(landing, "contacts")) == 6


def test_sandbox_rate_limit_answers_like_hubspot() -> None:
    with start_hubspot(_account(), token=TOKEN, search_per_second=1) as srv:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{srv.url}/crm/v3/objects/contacts/search"
        statuses = [requests.post(url, json={}, headers=headers, timeout=5) for _ in range(2)]
    limited = statuses[1]
    assert [s.status_code for s in statuses] == [200, 429]
    assert limited.json()["errorType"] == "RATE_LIMIT"
    assert "Retry-After" not in limited.headers
    assert "X-HubSpot-RateLimit-Remaining" in limited.headers


def _keys(value: Any) -> set[str]:
    return set(value) if isinstance(value, dict) else set()


def test_sandbox_answers_pass_the_golden_parser_tests(server: Any) -> None:
    """The sandbox's records carry every key of the documented ones, and parse the same."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"properties": ["lifecyclestage", "phone", "mobilephone", "hs_merged_object_ids"]}
    answer = requests.post(
        f"{server.url}/crm/v3/objects/contacts/search", json=body, headers=headers, timeout=5
    ).json()
    golden = golden_json("hubspot_search_contacts.json")
    assert _keys(golden) - {"paging"} <= _keys(answer)
    record, documented = answer["results"][0], golden["results"][0]
    assert _keys(documented) <= _keys(record)
    row = parse_contact(record)
    assert row["contact_id"] == 1 and row["phone"] == "+79120000001"
    pipelines = requests.get(
        f"{server.url}/crm/v3/pipelines/deals", headers=headers, timeout=5
    ).json()
    assert [r["stage_id"] for r in parse_pipeline(pipelines["results"][0])] == ["new", "closedwon"]


def test_wrong_token_is_refused(server: Any) -> None:
    answer = requests.get(
        f"{server.url}/crm/v3/pipelines/deals",
        headers={"Authorization": "Bearer wrong"},
        timeout=5,
    )
    assert answer.status_code == 401


def test_reference_account_lands_as_its_truth_says(tmp_path: Path) -> None:
    generated = generate_account(generate(seed=7, n_leads=600))
    truth = generated.truth
    with start_hubspot(generated.account, token=TOKEN, search_per_second=10_000) as srv:
        landing = RawLanding(tmp_path, "hubspot", "run-1")
        extract_hubspot(
            SourceConnection(srv.url, TOKEN),
            landing,
            updated_from=datetime(2025, 12, 1, tzinfo=UTC),
            updated_to=datetime(2026, 9, 1, tzinfo=UTC),
            client=_client(srv.url),
        )
    contacts = _landed(landing, "contacts")
    live = {f"hubspot:{r['contact_id']}" for r in contacts if not r["archived"]}
    assert live == {lead for lead, t in truth.items() if t.in_marts}
    personas = {
        f"hubspot:{r['contact_id']}": {p["name"]: p["value"] for p in r["properties"]}["hs_persona"]
        for r in contacts
    }
    assert personas == {lead: PERSONAS.get(truth[lead].segment) for lead in personas}
    assert {t.segment for t in truth.values() if t.in_marts} == {
        "dealer", "developer", "private", "unknown",
    }  # fmt: skip
    assert any(r["merged_object_ids"] for r in contacts)
    assert any(t.phone_kind == "duplicate" and t.in_marts for t in truth.values())
    deals = {r["deal_id"]: r for r in _landed(landing, "deals")}
    live_deals = {d for d, r in deals.items() if not r["archived"]}
    assert {d for t in truth.values() for d in t.deal_ids} <= live_deals
    assert len(live_deals) < len(deals)  # archived deals land too, flagged
    # Links and history come for the deals search found: the live ones.
    links = _landed(landing, "deal_contacts")
    assert {r["deal_id"] for r in links} == live_deals
    pairs = [(r["deal_id"], r["contact_id"]) for r in links]
    assert len(pairs) == len(set(pairs))  # each association once in a run
    assert any(sum(r["deal_id"] == d for r in links) > 1 for d in live_deals)  # shared deals
    # The truth gives each deal to its earliest created contact, as METRICS.md does.
    created = {r["contact_id"]: (r["created_at"], r["contact_id"]) for r in contacts}
    owners: dict[int, int] = {}
    for deal_id, contact_id in pairs:
        if deal_id not in owners or created[contact_id] < created[owners[deal_id]]:
            owners[deal_id] = contact_id
    planted_owners = {
        d: int(lead.removeprefix("hubspot:")) for lead, t in truth.items() for d in t.deal_ids
    }
    assert owners == planted_owners
    history_deals = {r["deal_id"] for r in _landed(landing, "stage_history")}
    assert history_deals == live_deals


def test_a_merge_moves_the_deals_to_the_survivor_once_and_names_the_merged_contact(
    tmp_path: Path,
) -> None:
    """Contact 2 shares deal 901 with contact 1 and is merged into it within the window."""
    account = _account()
    merged_at = T0 + timedelta(hours=5)
    account.merge_contacts("2", "1", merged_at)
    with start_hubspot(account, token=TOKEN, search_per_second=10_000) as srv:
        landing, _ = _extract(srv.url, tmp_path)
        swept = RawLanding(tmp_path / "sweep", "hubspot", "run-1")
        sweep_ids(SourceConnection(srv.url, TOKEN), swept, client=_client(srv.url))
    contacts = {r["contact_id"]: r for r in _landed(landing, "contacts")}
    assert 2 not in contacts
    assert contacts[1]["merged_object_ids"] == [2]
    assert contacts[1]["updated_at"] == merged_at
    links = [(r["deal_id"], r["contact_id"]) for r in _landed(landing, "deal_contacts")]
    assert links == [(901, 1)]
    assert 2 not in {r["contact_id"] for r in _landed(swept, "contact_ids")}
