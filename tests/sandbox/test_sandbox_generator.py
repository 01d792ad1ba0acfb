# ruff: noqa: RUF001 - Russian reference data: its Cyrillic letters are not look-alikes
"""Facts of the reference case, checked on the wire-shaped data the servers serve."""

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest

from sandbox import Dataset, generate
from sandbox.generator import (
    ALL_CAMPAIGNS,
    BRAND_CAMPAIGN_NAME,
    LOST_STATUS_ID,
    SEGMENT_FIELD_ID,
    WON_STATUS_ID,
)

Json = dict[str, Any]
UNREACHABLE = "Не дозвонились"


def _digest(dataset: Dataset) -> str:
    text = json.dumps(asdict(dataset), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _field(lead: Json, *, field_id: int | None = None, code: str | None = None) -> str | None:
    for custom in lead["custom_fields_values"] or []:
        if custom["field_id"] == field_id or (code is not None and custom["field_code"] == code):
            return custom["values"][0]["value"]
    return None


def _live(dataset: Dataset) -> list[Json]:
    return [lead for lead in dataset.leads if not lead["is_deleted"]]


def _phones(dataset: Dataset) -> dict[int, list[str]]:
    """Every phone value of every lead's contacts, by lead id."""
    contacts = {contact["id"]: contact for contact in dataset.contacts}
    phones: dict[int, list[str]] = {}
    for lead in dataset.leads:
        values = []
        for ref in lead["_embedded"]["contacts"]:
            for custom in contacts[ref["id"]]["custom_fields_values"] or []:
                if custom["field_code"] == "PHONE":
                    values += [value["value"] for value in custom["values"]]
        phones[lead["id"]] = values
    return phones


def _parse(phone: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(phone, "RU")
    except phonenumbers.NumberParseException:
        return None


def _invalid_reason(phones: list[str]) -> str | None:
    """mart_leads.phone_invalid_reason as METRICS.md defines it, for one-reason leads."""
    numbers = [number for number in map(_parse, phones) if number is not None]
    if any(phonenumbers.is_valid_number(number) for number in numbers):
        return None
    if not any(phone.strip() for phone in phones):
        return "no_phone"
    return "invalid_number" if numbers else "unparseable"


def _valid_e164(phones: list[str]) -> set[str]:
    return {
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        for number in map(_parse, phones)
        if number is not None and phonenumbers.is_valid_number(number)
    }


# Determinism --------------------------------------------------------------------------


def test_same_seed_gives_identical_data() -> None:
    assert generate(seed=5, n_leads=200) == generate(seed=5, n_leads=200)


def test_other_seed_gives_other_data() -> None:
    first, second = generate(seed=5, n_leads=200), generate(seed=6, n_leads=200)
    assert first.leads != second.leads
    assert first.ad_stats != second.ad_stats


def test_data_does_not_depend_on_hash_randomisation() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from test_sandbox_generator import _digest;"
        "from sandbox import generate; print(_digest(generate(seed=5, n_leads=200)))"
    )
    here = os.path.dirname(__file__)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", code, here], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == _digest(generate(seed=5, n_leads=200))


def test_too_few_leads_are_refused() -> None:
    with pytest.raises(ValueError, match="n_leads"):
        generate(n_leads=10)


# The reference case -------------------------------------------------------------------


def test_private_buyers_are_the_majority_of_leads(reference: Dataset) -> None:
    labels = Counter(_field(lead, field_id=SEGMENT_FIELD_ID) for lead in _live(reference))
    total = sum(labels.values())
    assert 0.65 <= labels["Частный покупатель"] / total <= 0.75
    assert 0.15 <= labels["Дилер"] / total <= 0.25
    assert 0.05 <= labels["Застройщик"] / total <= 0.15


def test_dealers_bring_over_80_percent_of_won_revenue(reference: Dataset) -> None:
    revenue: Counter[str | None] = Counter()
    for lead in _live(reference):
        if lead["status_id"] == WON_STATUS_ID:
            revenue[_field(lead, field_id=SEGMENT_FIELD_ID)] += lead["price"]
    assert revenue["Дилер"] / sum(revenue.values()) > 0.8
    truth_revenue = sum(t.won_amount for t in reference.truth.values() if not t.is_deleted)
    assert truth_revenue == sum(revenue.values())


def test_dealers_win_far_more_often_than_private_buyers(reference: Dataset) -> None:
    won: Counter[str | None] = Counter()
    leads: Counter[str | None] = Counter()
    for lead in _live(reference):
        segment = _field(lead, field_id=SEGMENT_FIELD_ID)
        leads[segment] += 1
        won[segment] += lead["status_id"] == WON_STATUS_ID
    assert won["Дилер"] / leads["Дилер"] > 0.4
    assert won["Частный покупатель"] / leads["Частный покупатель"] < 0.15


def test_planted_phone_validity_agrees_with_libphonenumber(reference: Dataset) -> None:
    phones = _phones(reference)
    disagreements = [
        (lead_id, phones[lead_id], truth.phone_invalid_reason)
        for lead_id, truth in reference.truth.items()
        if _invalid_reason(phones[lead_id]) != truth.phone_invalid_reason
    ]
    assert disagreements == []
    reasons = Counter(truth.phone_invalid_reason for truth in reference.truth.values())
    assert {"no_phone", "unparseable", "invalid_number"} <= reasons.keys()


def test_about_a_quarter_of_private_leads_have_invalid_phones(reference: Dataset) -> None:
    phones = _phones(reference)
    private = [
        lead["id"]
        for lead in _live(reference)
        if _field(lead, field_id=SEGMENT_FIELD_ID) == "Частный покупатель"
    ]
    invalid = [lead_id for lead_id in private if _invalid_reason(phones[lead_id]) is not None]
    assert 0.2 <= len(invalid) / len(private) <= 0.35


def test_planted_duplicates_are_exactly_the_30_day_phone_repeats(reference: Dataset) -> None:
    phones = _phones(reference)
    live = sorted(_live(reference), key=lambda lead: (lead["created_at"], lead["id"]))
    window = timedelta(days=30).total_seconds()
    first_seen: dict[str, list[int]] = defaultdict(list)  # e164 -> creation times so far
    found = set()
    for lead in live:
        numbers = _valid_e164(phones[lead["id"]])
        created = lead["created_at"]
        if any(created - seen <= window for e164 in numbers for seen in first_seen[e164]):
            found.add(lead["id"])
        for e164 in numbers:
            first_seen[e164].append(created)
    planted = {lead["id"] for lead in live if reference.truth[lead["id"]].phone_kind == "duplicate"}
    assert found == planted
    private = sum(reference.truth[lead["id"]].segment == "private" for lead in live)
    assert 0.07 <= len(planted) / private <= 0.13


def test_invalid_phone_private_leads_are_mostly_lost_unreachable(reference: Dataset) -> None:
    reasons = {reason["id"]: reason["name"] for reason in reference.loss_reasons}
    moves = Counter(event["entity_id"] for event in reference.events)
    invalid = [
        lead
        for lead in _live(reference)
        if reference.truth[lead["id"]].segment == "private"
        and reference.truth[lead["id"]].phone_kind == "invalid"
    ]
    lost_unreachable_at_once = [
        lead
        for lead in invalid
        if lead["status_id"] == LOST_STATUS_ID
        and reasons.get(lead["loss_reason_id"]) == UNREACHABLE
        and moves[lead["id"]] == 1
    ]
    assert len(lost_unreachable_at_once) / len(invalid) >= 0.75


def test_paid_leads_name_their_campaign_by_id_or_by_odd_cased_name(reference: Dataset) -> None:
    by_name = 0
    paid = [lead for lead in _live(reference) if reference.truth[lead["id"]].campaign_id]
    for lead in paid:
        truth = reference.truth[lead["id"]]
        campaign = next(c for c in ALL_CAMPAIGNS if c.id == truth.campaign_id)
        assert campaign.platform == truth.platform
        reference_text = _field(lead, code="UTM_CAMPAIGN")
        assert _field(lead, code="UTM_MEDIUM") in ("cpc", "paid_social")
        if reference_text != str(campaign.id):
            assert reference_text.strip().casefold() == campaign.name.casefold()
            by_name += reference_text != campaign.name
    assert 0.05 <= by_name / len(paid) <= 0.25
    assert {reference.truth[lead["id"]].platform for lead in paid} == {
        "yandex_direct",
        "google_ads",
        "meta_ads",
    }


def test_a_campaign_name_two_platforms_share_is_resolved_by_utm_source_or_ambiguous(
    reference: Dataset,
) -> None:
    sharing = {c.platform for c in ALL_CAMPAIGNS if c.name == BRAND_CAMPAIGN_NAME}
    assert sharing == {"yandex_direct", "google_ads"}
    aliases = {"yandex": "yandex_direct", "google": "google_ads"}
    by_shared_name = [
        lead
        for lead in _live(reference)
        if (_field(lead, code="UTM_CAMPAIGN") or "").strip().casefold()
        == BRAND_CAMPAIGN_NAME.casefold()
    ]
    resolved = Counter()
    for lead in by_shared_name:
        truth = reference.truth[lead["id"]]
        source = _field(lead, code="UTM_SOURCE")
        if source is None:
            assert truth.channel == "ambiguous"
        else:
            assert truth.channel == aliases[source] == truth.platform
        resolved[truth.channel] += 1
    assert resolved["ambiguous"] >= 3
    assert resolved["yandex_direct"] >= 3
    assert resolved["google_ads"] >= 3


def test_non_paid_utm_sources_match_no_campaign(reference: Dataset) -> None:
    campaign_refs = {str(c.id) for c in ALL_CAMPAIGNS} | {c.name.casefold() for c in ALL_CAMPAIGNS}
    tagged = [lead for lead in _live(reference) if _field(lead, code="UTM_SOURCE") is not None]
    non_paid = [lead for lead in tagged if reference.truth[lead["id"]].campaign_id is None]
    assert {_field(lead, code="UTM_SOURCE") for lead in non_paid} >= {"google", "email"}
    for lead in non_paid:
        assert (_field(lead, code="UTM_CAMPAIGN") or "").strip().casefold() not in campaign_refs
        assert reference.truth[lead["id"]].channel is None
    for lead in tagged:
        if reference.truth[lead["id"]].campaign_id is not None:
            assert (_field(lead, code="UTM_CAMPAIGN") or "").strip().casefold() in campaign_refs


def test_spend_is_spread_over_three_platforms_in_three_currencies(reference: Dataset) -> None:
    stats = reference.platform_stats()
    assert {platform: account.currency for platform, (account, _) in stats.items()} == {
        "yandex_direct": "RUB",
        "google_ads": "USD",
        "meta_ads": "EUR",
    }
    for platform, (_, rows) in stats.items():
        assert sum(row["Cost"] for row in rows) > 0, platform
        assert {row["CampaignId"] for row in rows} == {
            c.id for c in ALL_CAMPAIGNS if c.platform == platform
        }
    assert stats["meta_ads"][0].time_zone != stats["yandex_direct"][0].time_zone


def test_exchange_rates_are_dated_the_day_after_each_working_day(reference: Dataset) -> None:
    """The CBR dates a rate by the day it takes effect: Tuesday to Saturday, never a
    Sunday or Monday, and nothing after a holiday."""
    days = sorted({date.fromisoformat(row["Date"]) for row in reference.currency_rates})
    assert days[0] < date(2026, 1, 1) and days[-1] == date(2026, 7, 1)
    assert {day.weekday() for day in days} == {1, 2, 3, 4, 5}
    assert not {date(2026, 1, d) for d in range(1, 11)} & set(days)  # new-year holidays
    assert date(2026, 1, 13) in days  # set on Monday 12 January, the first working day
    per_day = Counter(row["Date"] for row in reference.currency_rates)
    assert set(per_day.values()) == {5}  # USD, EUR, CNY, KZT, JPY every publication day
    nominals = {row["CharCode"]: row["Nominal"] for row in reference.currency_rates}
    assert nominals["USD"] == nominals["EUR"] == 1
    assert nominals["KZT"] == nominals["JPY"] == 100
    for row in reference.currency_rates:
        assert row["Value"] > 0 and row["Value"] == row["Value"].quantize(Decimal("0.0001"))


def test_dealers_and_developers_carry_no_utm_tags(reference: Dataset) -> None:
    for lead in reference.leads:
        if _field(lead, field_id=SEGMENT_FIELD_ID) in ("Дилер", "Застройщик"):
            assert all(
                custom["field_type"] != "tracking_data" for custom in lead["custom_fields_values"]
            )


def test_a_campaign_spends_in_a_month_that_brings_it_no_lead(reference: Dataset) -> None:
    spent = {
        (row["CampaignId"], row["Date"][:7])
        for _, rows in reference.platform_stats().values()
        for row in rows
        if row["Cost"] > 0
    }
    with_leads = {
        (truth.campaign_id, truth.cohort_month.isoformat()[:7])
        for truth in reference.truth.values()
        if truth.campaign_id is not None and not truth.is_deleted
    }
    assert spent - with_leads
    assert with_leads <= spent


def test_status_histories_chain_from_the_first_status_to_the_current(reference: Dataset) -> None:
    pipelines = {
        pipeline["id"]: [status["id"] for status in pipeline["_embedded"]["statuses"]]
        for pipeline in reference.pipelines
    }
    history = defaultdict(list)
    for event in reference.events:
        history[event["entity_id"]].append(event)
    skips = backs = 0
    for lead in reference.leads:
        statuses = pipelines[lead["pipeline_id"]]
        current = statuses[0]
        events = sorted(history[lead["id"]], key=lambda event: event["created_at"])
        for event in events:
            before = event["value_before"][0]["lead_status"]
            after = event["value_after"][0]["lead_status"]
            assert event["created_at"] > lead["created_at"]
            assert before == {"id": current, "pipeline_id": lead["pipeline_id"]}
            assert after["id"] in statuses
            if after["id"] not in (WON_STATUS_ID, LOST_STATUS_ID):
                step = statuses.index(after["id"]) - statuses.index(current)
                skips += step == 2
                backs += step < 0
            current = after["id"]
        assert lead["status_id"] == current
        closed = lead["status_id"] in (WON_STATUS_ID, LOST_STATUS_ID)
        assert lead["closed_at"] == (events[-1]["created_at"] if closed else None)
        assert lead["updated_at"] >= (events[-1]["created_at"] if events else lead["created_at"])
        if lead["loss_reason_id"] is not None:
            assert lead["status_id"] == LOST_STATUS_ID
    assert skips > 10
    assert backs > 10


def test_both_pipelines_share_the_closing_statuses(reference: Dataset) -> None:
    assert len(reference.pipelines) == 2
    for pipeline in reference.pipelines:
        statuses = pipeline["_embedded"]["statuses"]
        assert {WON_STATUS_ID, LOST_STATUS_ID} <= {status["id"] for status in statuses}
        assert len(statuses) == 6
        assert all(status["pipeline_id"] == pipeline["id"] for status in statuses)


def test_some_leads_belong_to_april_only_in_moscow_time(reference: Dataset) -> None:
    start = datetime(2026, 3, 31, 21, tzinfo=UTC).timestamp()
    end = datetime(2026, 4, 1, tzinfo=UTC).timestamp()
    boundary = [lead for lead in _live(reference) if start <= lead["created_at"] < end]
    assert len(boundary) >= 3
    assert {reference.truth[lead["id"]].cohort_month for lead in boundary} == {date(2026, 4, 1)}


def test_history_covers_the_first_half_of_2026(reference: Dataset) -> None:
    created = [lead["created_at"] for lead in reference.leads]
    assert min(created) >= datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert max(created) < datetime(2026, 6, 30, 21, tzinfo=UTC).timestamp()
    days = {row["Date"] for row in reference.ad_stats}
    assert min(days) == "2026-01-01"
    assert max(days) == "2026-06-30"
    assert len({row["CampaignId"] for row in reference.ad_stats}) == 6
    for platform, (_, rows) in reference.platform_stats().items():
        assert {row["Date"] for row in rows} <= days, platform


def test_about_one_percent_of_leads_are_deleted(reference: Dataset) -> None:
    deleted = [lead for lead in reference.leads if lead["is_deleted"]]
    assert 0.005 <= len(deleted) / len(reference.leads) <= 0.02
    assert all(reference.truth[lead["id"]].is_deleted for lead in deleted)


def test_contacts_hold_phones_typed_in_several_formats(reference: Dataset) -> None:
    contact_ids = {contact["id"] for contact in reference.contacts}
    for lead in reference.leads:
        assert {ref["id"] for ref in lead["_embedded"]["contacts"]} <= contact_ids
    typed = {
        "+7 912 345-67-89": re.compile(r"\+7 \d{3} \d{3}-\d{2}-\d{2}"),
        "89123456789": re.compile(r"8\d{10}"),
        "8 (912) 345 67 89": re.compile(r"8 \(\d{3}\) \d{3} \d{2} \d{2}"),
    }
    seen_formats, codes = set(), set()
    for contact in reference.contacts:
        for custom in contact["custom_fields_values"] or []:
            assert custom["field_code"] == "PHONE"
            assert 1 <= len(custom["values"]) <= 2
            for value in custom["values"]:
                codes.add(value["enum_code"])
                seen_formats |= {
                    example
                    for example, pattern in typed.items()
                    if pattern.fullmatch(value["value"])
                }
    assert codes == {"WORK", "MOB"}
    assert seen_formats == set(typed)
