"""The HubSpot account of the reference case: contacts (the leads), deals, stage history.

Built from the amoCRM dataset of the same seed (the same business selling through a third
CRM), so that some of its phones are amoCRM phones and cross-source duplicates exist.
Records are kept in wire shape (ids and property values as strings, dates ISO); the truth
says what each canonical lead is meant to come out as.

Planted on purpose: deals associated with two contacts (the deal belongs to the earlier
created one), contacts without a deal, archived contacts and deals, contacts merged into
another one (gone from every listing, named in the survivor's `hs_merged_object_ids`),
phones shared with amoCRM leads, garbage phones, and the segment as the contact's buyer
persona (`hs_persona`, whose values are internal names such as `persona_1`), missing on
some contacts. The economics follow the amoCRM reference case: dealers are few and bring
most of the revenue, private buyers are most of the contacts with small deals.

Where a contact came from is where HubSpot keeps it in a portal without custom
properties: the original source (`hs_analytics_source`) and its two drill-downs, filled
as HubSpot documents them (knowledge base, "Understand Original and Latest source
properties"). Contacts of the site's forms came from the reference case's ad campaigns
(paid search: the link's utm_campaign, a campaign id or name, in drill-down 1; paid
social: the network in drill-down 1, utm_campaign in 2), from organic search, email,
referrals, organic social or direct visits; dealers and developers were entered by the
sales team (an offline source) and, typed in by hand, have no garbage phone.

Nothing happens after the reference snapshot: a deal still walking its pipeline then
stays open where it is.
"""

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sandbox.bitrix24_portal import amocrm_phones
from sandbox.generator import (
    ALL_CAMPAIGNS,
    CAMPAIGN_NAME_AS_UTM_SHARE,
    CAMPAIGN_WITHOUT_LEADS,
    FIRST_DAY,
    MOSCOW,
    SNAPSHOT_AT,
    Campaign,
    Dataset,
    Json,
    Segment,
)
from sandbox.hubspot import Account, iso, wire_record

MIN_ACCOUNT_CONTACTS = 30
ACCOUNT_SHARE = 0.1  # of the amoCRM leads
FIRST_CONTACT_ID = 7001
FIRST_DEAL_ID = 9001
PIPELINE_ID = "default"
OPEN_STAGES = (  # HubSpot's default sales pipeline
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
)
WON, LOST = "closedwon", "closedlost"


@dataclass(frozen=True)
class _Source:
    """A contact's original source as HubSpot keeps it, and the channel METRICS.md makes of
    it with the shipped seeds."""

    hs_source: str  # hs_analytics_source
    drill_down_1: str | None  # hs_analytics_source_data_1
    drill_down_2: str | None  # hs_analytics_source_data_2
    channel: str


# Created by hand in the CRM: dealers come through the dealer network, developers through
# tenders, so no link names a campaign.
ENTERED_BY_SALES = _Source("OFFLINE", "CRM_UI", None, "unattributed")
NONPAID_SOURCES = {  # organic search hides the search term; email: utm_campaign, email name
    "organic": _Source("ORGANIC_SEARCH", None, "yandex.ru", "organic"),
    "email": _Source("EMAIL_MARKETING", "spring_catalog", "Весенний каталог 2026", "email"),
    "referral": _Source("REFERRALS", "dealers-map.ru", "https://dealers-map.ru/moscow", "referral"),
    "social": _Source("SOCIAL_MEDIA", "Facebook", None, "social"),
    "direct": _Source("DIRECT_TRAFFIC", None, None, "unattributed"),
}
PAID_SOURCES = {  # HubSpot's source of each platform's clicks
    "yandex_direct": "PAID_SEARCH",
    "google_ads": "PAID_SEARCH",
    "meta_ads": "PAID_SOCIAL",
}
# The source of each next contact from the site's forms, in turn: most come from ads.
WEB_SOURCES = (
    "yandex_direct", "google_ads", "meta_ads", "organic", "yandex_direct", "email",
    "yandex_direct", "referral", "google_ads", "social", "meta_ads", "direct",
)  # fmt: skip
SOCIAL_NETWORKS = ("Facebook", "Instagram")  # drill-down 1 of Meta's placements
# Names more than one platform's campaigns have: paid search keeps no network to tell them
# apart, so such a campaign is named by its id.
SHARED_CAMPAIGN_NAMES = frozenset(
    name for name, n in Counter(c.name for c in ALL_CAMPAIGNS).items() if n > 1
)
SNAPSHOT = datetime.fromtimestamp(SNAPSHOT_AT, UTC)
DEAL_AFTER_CONTACT_HOURS = (2.0, 48.0)
# Contacts are created early enough for their deal to be created before the snapshot.
LAST_CONTACT_CREATED = SNAPSHOT - timedelta(hours=DEAL_AFTER_CONTACT_HOURS[1] + 1)
SEGMENT_PROPERTY = "hs_persona"
PERSONAS: dict[Segment, str] = {  # the account's personas, by internal value
    "dealer": "persona_1",
    "developer": "persona_2",
    "private": "persona_3",
}


@dataclass(frozen=True)
class _Economics:
    """How the contacts of one segment buy."""

    share: float  # of the contacts
    amount: tuple[int, int, int]  # low, high, step in RUB
    win_chance: float  # of a deal that got past the second open stage


ECONOMICS: dict[Segment, _Economics] = {
    "dealer": _Economics(0.18, (400_000, 2_000_000, 5_000), 0.75),
    "developer": _Economics(0.07, (800_000, 2_500_000, 10_000), 0.15),
    "private": _Economics(0.67, (30_000, 90_000, 1_000), 0.35),
    # Contacts nobody gave a persona: small retail orders, like private buyers'.
    "unknown": _Economics(0.08, (30_000, 90_000, 1_000), 0.3),
}


@dataclass(frozen=True)
class AccountLeadTruth:
    """What one HubSpot contact is meant to be as a canonical lead (`hubspot:<id>`)."""

    lead_id: str
    segment: Segment  # `unknown`: the contact has no persona
    phone_kind: str  # valid, duplicate (of an amoCRM phone), garbage, none
    deal_ids: tuple[int, ...]  # the deals it owns (it is their earliest created contact)
    won_amount: int
    in_marts: bool  # False once archived or merged away
    channel: str  # as METRICS.md attributes it: an ad platform or a non-paid channel


@dataclass
class GeneratedAccount:
    account: Account
    truth: dict[str, AccountLeadTruth] = field(default_factory=dict)


def generate_account(dataset: Dataset) -> GeneratedAccount:
    """The HubSpot account derived from `dataset`, with its truth."""
    rng = random.Random(f"{dataset.seed}:hubspot")
    n_contacts = max(MIN_ACCOUNT_CONTACTS, int(len(dataset.leads) * ACCOUNT_SHARE))
    builder = _AccountBuilder(rng, amocrm_phones(dataset))
    for index in range(n_contacts):
        builder.add_contact(index)
    return builder.finish()


def _pipeline() -> Json:
    stages = [*OPEN_STAGES, (WON, "Closed Won", "1.0"), (LOST, "Closed Lost", "0.0")]
    return {
        "id": PIPELINE_ID,
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": [
            {
                "id": stage_id,
                "label": label,
                "displayOrder": order,
                "metadata": {
                    "isClosed": str(stage_id in (WON, LOST)).lower(),
                    "probability": probability,
                },
            }
            for order, (stage_id, label, probability) in enumerate(stages)
        ],
    }


@dataclass
class _Planned:
    contact_id: str
    created: datetime
    segment: Segment
    phone_kind: str
    channel: str
    deal_ids: list[int] = field(default_factory=list)
    won_amount: int = 0
    in_marts: bool = True


class _AccountBuilder:
    def __init__(self, rng: random.Random, amocrm_phones: list[str]) -> None:
        self._rng = rng
        self._amocrm_phones = amocrm_phones
        self._account = Account(pipelines=[_pipeline()])
        self._planned: list[_Planned] = []
        self._next_deal = FIRST_DEAL_ID
        self._last_phone = 0
        self._web_contacts = 0

    def add_contact(self, index: int) -> None:
        contact_id = str(FIRST_CONTACT_ID + index)
        created = self._created_at()
        segment = self._segment()
        source = self._source(segment, created)
        phone, phone_kind = self._phone(index, typed_by_hand=source is ENTERED_BY_SALES)
        properties = {
            "createdate": iso(created),
            "lastmodifieddate": iso(created + timedelta(hours=1)),
            "lifecyclestage": "lead",
            "phone": phone,
            "hs_analytics_source": source.hs_source,
            "hs_analytics_source_data_1": source.drill_down_1,
            "hs_analytics_source_data_2": source.drill_down_2,
            SEGMENT_PROPERTY: PERSONAS.get(segment),
        }
        record = wire_record(contact_id, properties, created, created + timedelta(hours=1))
        self._account.contacts[contact_id] = record
        planned = _Planned(contact_id, created, segment, phone_kind, source.channel)
        self._planned.append(planned)
        if index % 3 != 2:  # every third contact never gets a deal
            self._add_deal(planned, index)
        if index % 10 == 7 and len(self._planned) > 1:
            # A later contact of an earlier deal: the deal stays with the earlier contact.
            earlier = self._planned[-2]
            if earlier.deal_ids and earlier.created < created:
                self._account.deal_contacts[str(earlier.deal_ids[0])].append(contact_id)
        if index % 17 == 11:
            self._account.archive("contacts", contact_id, created + timedelta(days=2))
            planned.in_marts = False

    def finish(self) -> GeneratedAccount:
        self._merge_pairs()
        truth = {
            f"hubspot:{p.contact_id}": AccountLeadTruth(
                lead_id=f"hubspot:{p.contact_id}",
                segment=p.segment,
                phone_kind=p.phone_kind,
                deal_ids=tuple(p.deal_ids),
                won_amount=p.won_amount,
                in_marts=p.in_marts,
                channel=p.channel,
            )
            for p in self._planned
        }
        return GeneratedAccount(self._account, truth)

    def _merge_pairs(self) -> None:
        """Every 13th contact (without a deal) is merged into the contact before it."""
        for index in range(12, len(self._planned), 13):
            gone, survivor = self._planned[index], self._planned[index - 1]
            if gone.deal_ids or not (gone.in_marts and survivor.in_marts):
                continue
            merged_at = max(gone.created, survivor.created) + timedelta(hours=2)
            self._account.merge_contacts(gone.contact_id, survivor.contact_id, merged_at)
            gone.in_marts = False

    def _add_deal(self, owner: _Planned, index: int) -> None:
        deal_id = str(self._next_deal)
        self._next_deal += 1
        economics = ECONOMICS[owner.segment]
        created = owner.created + timedelta(hours=self._rng.uniform(*DEAL_AFTER_CONTACT_HOURS))
        furthest = self._rng.randrange(len(OPEN_STAGES))
        won = furthest >= 2 and self._rng.random() < economics.win_chance
        planned_outcome = WON if won else self._rng.choice((LOST, None))
        stages = [stage_id for stage_id, _, _ in OPEN_STAGES[: furthest + 1]]
        history = self._history(created, [*stages, planned_outcome] if planned_outcome else stages)
        outcome = history[-1]["value"] if history[-1]["value"] in (WON, LOST) else None
        amount = self._rng.randrange(*economics.amount)
        properties = {
            "createdate": iso(created),
            "hs_lastmodifieddate": history[-1]["timestamp"],
            "pipeline": PIPELINE_ID,
            "dealstage": history[-1]["value"],
            "amount": str(amount),
            "deal_currency_code": "RUB",
            "closedate": history[-1]["timestamp"] if outcome else None,
            "hs_is_closed": str(outcome is not None).lower(),
            "hs_is_closed_won": str(outcome == WON).lower(),
        }
        modified = datetime.fromisoformat(history[-1]["timestamp"])
        self._account.deals[deal_id] = wire_record(deal_id, properties, created, modified)
        self._account.deal_stage_history[deal_id] = list(reversed(history))  # newest first
        self._account.deal_contacts[deal_id] = [owner.contact_id]
        if index % 23 == 5:
            archived_at = min(modified + timedelta(days=1), SNAPSHOT - timedelta(minutes=1))
            self._account.archive("deals", deal_id, archived_at)
            return
        owner.deal_ids.append(int(deal_id))
        owner.won_amount += amount if outcome == WON else 0

    def _history(self, created: datetime, stages: list[str]) -> list[Json]:
        """`dealstage` values of a deal entering `stages` in turn from `created`, oldest
        first; a deal still on its way at the snapshot stays where it then was."""
        history, moment = [], created
        for stage_id in stages:
            if moment >= SNAPSHOT:
                break
            history.append({"value": stage_id, "timestamp": iso(moment), "sourceType": "CRM_UI"})
            moment += timedelta(days=self._rng.uniform(0.5, 6))
        return history

    def _created_at(self) -> datetime:
        start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
        span = int((LAST_CONTACT_CREATED - start).total_seconds())
        return start + timedelta(seconds=self._rng.randrange(span))

    def _segment(self) -> Segment:
        weights = [economics.share for economics in ECONOMICS.values()]
        return self._rng.choices(list(ECONOMICS), weights=weights)[0]

    def _source(self, segment: Segment, created: datetime) -> _Source:
        """Dealers and developers entered by the sales team; everyone else from the site's
        forms, from each of WEB_SOURCES in turn."""
        if segment in ("dealer", "developer"):
            return ENTERED_BY_SALES
        kind = WEB_SOURCES[self._web_contacts % len(WEB_SOURCES)]
        self._web_contacts += 1
        if kind in PAID_SOURCES:
            return self._paid_source(kind, created.astimezone(MOSCOW).date())
        return NONPAID_SOURCES[kind]

    def _paid_source(self, platform: str, day: date) -> _Source:
        """A click on one of the platform's campaigns running that day: its link's
        utm_campaign is the campaign id or, now and then, its name as typed by hand."""
        silent_id, silent_month = CAMPAIGN_WITHOUT_LEADS
        running = [
            c
            for c in ALL_CAMPAIGNS
            if c.platform == platform
            and c.first_day <= day
            and not (c.id == silent_id and day.replace(day=1) == silent_month)
        ]
        campaign = self._rng.choices(running, weights=[c.conversion for c in running])[0]
        utm_campaign = self._utm_campaign(campaign)
        if PAID_SOURCES[platform] == "PAID_SOCIAL":
            network = self._rng.choice(SOCIAL_NETWORKS)
            return _Source("PAID_SOCIAL", network, utm_campaign, platform)
        return _Source("PAID_SEARCH", utm_campaign, None, platform)

    def _utm_campaign(self, campaign: Campaign) -> str:
        named = self._rng.random() < CAMPAIGN_NAME_AS_UTM_SHARE
        if campaign.name in SHARED_CAMPAIGN_NAMES or not named:
            return str(campaign.id)
        cased = self._rng.choice((campaign.name, campaign.name.lower(), campaign.name.upper()))
        return f" {cased} "

    def _phone(self, index: int, *, typed_by_hand: bool) -> tuple[str | None, str]:
        """Every 5th contact an amoCRM lead's phone; of those from the site's forms every
        9th garbage and every 11th none."""
        if index % 9 == 4 and not typed_by_hand:
            return "нет", "garbage"
        if index % 11 == 10 and not typed_by_hand:
            return None, "none"
        if index % 5 == 0 and self._amocrm_phones:
            return self._amocrm_phones[index // 5 % len(self._amocrm_phones)], "duplicate"
        self._last_phone += 1
        return f"+7 (913) 7{self._last_phone:06d}", "valid"
