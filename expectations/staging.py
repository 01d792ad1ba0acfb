"""Staging suite: the typed, deduplicated models below the marts (dbt staging and
intermediate), one lead / deal / stage event / ad cost per row.

Every check reports scope `all`; a check that can point at a culprit adds one row per
culprit (a source/channel, an unmapped status, an unmapped loss reason), at most
`CULPRITS` of them, largest first.

The checks name their intermediate models unqualified (the `INPUTS`): `read_inputs_once`
points the gate's connection at their schema and reads each one that is a view into a
temp table of the same name, which the search path finds first. A view of the whole
lead or deal pipeline is then computed once per gate run rather than once per check.
"""

import logging

import duckdb

from expectations.checks import Bound, Check, Layer, sql_measure

log = logging.getLogger(__name__)

INPUT_SCHEMA = "intermediate"
LEADS = "int_leads_enriched"
QUALIFIED = "int_leads_qualified"
DEALS = "int_deals_converted"
STAGE_EVENTS = "int_stage_events_mapped"
AD_SPEND = "int_ad_spend_converted"
INPUTS = (LEADS, QUALIFIED, DEALS, STAGE_EVENTS, AD_SPEND)
CULPRITS = 20
SAMPLE_SIZE = 5

LIVE_LEADS = f"(SELECT * FROM {LEADS} WHERE is_deleted IS NOT TRUE)"
LIVE_DEALS = f"(SELECT * FROM {DEALS} WHERE is_deleted IS NOT TRUE)"


def read_inputs_once(con: duckdb.DuckDBPyConnection) -> None:
    """Resolve the checks' unqualified model names in INPUT_SCHEMA, and read each input that
    is a view into a temp table of its name (allowed on a read-only connection). Tables
    are read in place. An input that cannot be read is left as it is: the checks that read
    it then fail, each with the error naming it."""
    try:
        con.execute(f"SET search_path = '{INPUT_SCHEMA}'")
    except duckdb.Error as exc:
        log.error("quality gate: no schema %s to check: %s", INPUT_SCHEMA, exc)
        return
    views = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = ? AND table_type = 'VIEW' AND list_contains(?, table_name) "
        "ORDER BY table_name",
        [INPUT_SCHEMA, list(INPUTS)],
    ).fetchall()
    for (view,) in views:
        try:
            con.execute(f"CREATE TEMP TABLE {view} AS SELECT * FROM {INPUT_SCHEMA}.{view}")
        except duckdb.Error as exc:
            log.error("quality gate: cannot read %s.%s: %s", INPUT_SCHEMA, view, exc)


def _sample(expression: str, relation: str, where: str) -> str:
    """A scalar subquery: up to SAMPLE_SIZE values of `expression`, space-separated."""
    return (
        f"(SELECT string_agg(sampled, ' ') FROM (SELECT DISTINCT {expression} AS sampled "
        f"FROM {relation} WHERE {where} ORDER BY sampled LIMIT {SAMPLE_SIZE}))"
    )


# Leads whose phone was never validated (NULL phone_valid) count as invalid, and show.
_PHONE_COUNTS = """
    count(*) FILTER (WHERE phone_valid)::DOUBLE / nullif(count(*), 0) AS observed_value,
    count(*) AS leads,
    count(*) FILTER (WHERE phone_invalid_reason = 'no_phone') AS no_phone,
    count(*) FILTER (WHERE phone_invalid_reason = 'unparseable') AS unparseable,
    count(*) FILTER (WHERE phone_invalid_reason = 'invalid_number') AS invalid_number,
    count(*) FILTER (WHERE phone_valid IS NULL) AS unvalidated
"""

_FUTURE = "now() + to_hours(CAST($tolerance_hours AS BIGINT))"
_NO_UTM = " AND ".join(
    f"nullif(trim({column}), '') IS NULL" for column in ("utm_source", "utm_medium", "utm_campaign")
)
_UNMAPPED_EVENTS = f"(SELECT * FROM {STAGE_EVENTS} WHERE funnel_stage = 'unmapped')"
_UNMAPPED_LOSS_REASONS = f"""(
    SELECT deals.source, deals.loss_reason FROM {LIVE_DEALS} AS deals
    WHERE deals.status = 'lost' AND deals.loss_reason IS NOT NULL
        AND NOT EXISTS (
            SELECT 1 FROM seeds.loss_reason_mapping AS mapping
            WHERE mapping.source = deals.source AND mapping.crm_reason = deals.loss_reason
        )
)"""
_ABSURD_AD_COSTS_SAMPLE = _sample(
    "platform || ':' || campaign_id || ':' || spend_date",
    AD_SPEND,
    "cost < 0 OR spend > $max_daily_cost",
)
_CAMPAIGNS_WITHOUT_LEADS = f"""(
    SELECT spend.platform, spend.campaign_id, sum(spend.spend) AS spend
    FROM {AD_SPEND} AS spend
    WHERE spend.cost > 0 AND NOT EXISTS (
        SELECT 1 FROM {LEADS} AS leads
        WHERE leads.platform = spend.platform AND leads.campaign_id = spend.campaign_id
    )
    GROUP BY ALL
)"""

CHECKS: tuple[Check, ...] = (
    Check(
        name="valid_phone_share",
        layer=Layer.STAGING,
        bound=Bound.MIN,
        description="share of live leads with a phone valid by libphonenumber",
        measure=sql_measure(f"SELECT 'all' AS scope, {_PHONE_COUNTS} FROM {LIVE_LEADS}"),
    ),
    Check(
        name="valid_phone_share_by_source_channel",
        layer=Layer.STAGING,
        bound=Bound.MIN,
        description=(
            "the same share per source/channel with at least min_leads leads, "
            "with the invalid reasons"
        ),
        measure=sql_measure(
            f"""
            SELECT source || '/' || coalesce(channel, '(none)') AS scope, {_PHONE_COUNTS}
            FROM {LIVE_LEADS}
            GROUP BY ALL HAVING count(*) >= $min_leads ORDER BY scope
            """
        ),
        params=("min_leads",),
    ),
    Check(
        name="duplicate_lead_share",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "share of live leads failing the not_duplicate rule (all, and per "
            "source/channel with at least min_leads leads)"
        ),
        measure=sql_measure(
            f"""
            WITH leads AS (
                SELECT leads.source || '/' || coalesce(leads.channel, '(none)') AS scope,
                    qualified.not_duplicate = 'fail' AS is_duplicate
                FROM {LIVE_LEADS} AS leads
                INNER JOIN {QUALIFIED} AS qualified ON leads.lead_id = qualified.lead_id
            )
            SELECT CASE WHEN grouping(scope) = 0 THEN scope ELSE 'all' END AS scope,
                count(*) FILTER (WHERE is_duplicate)::DOUBLE / nullif(count(*), 0)
                    AS observed_value,
                count(*) AS leads,
                count(*) FILTER (WHERE is_duplicate) AS duplicates
            FROM leads
            GROUP BY GROUPING SETS ((scope), ())
            HAVING grouping(scope) = 1 OR count(*) >= $min_leads
            ORDER BY grouping(scope) DESC, scope
            """
        ),
        params=("min_leads",),
    ),
    Check(
        name="unmapped_stage_events",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "stage events in CRM statuses the seed stage_mapping lacks (all, and per "
            "source/pipeline/status)"
        ),
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value
            FROM {_UNMAPPED_EVENTS}
            UNION ALL
            (SELECT source || '/' || pipeline_id || '/' || status_id, count(*)::DOUBLE
             FROM {_UNMAPPED_EVENTS} GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT {CULPRITS})
            """
        ),
    ),
    Check(
        name="unmapped_loss_reasons",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "lost deals whose CRM loss reason the seed loss_reason_mapping lacks (all, "
            "and per source/reason)"
        ),
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value
            FROM {_UNMAPPED_LOSS_REASONS}
            UNION ALL
            (SELECT source || '/' || loss_reason, count(*)::DOUBLE
             FROM {_UNMAPPED_LOSS_REASONS} GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT {CULPRITS})
            """
        ),
    ),
    Check(
        name="negative_or_absurd_deal_amounts",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "live deals with a negative amount or one above max_amount in the reporting currency"
        ),
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope,
                count(*) FILTER (WHERE amount < 0 OR amount_reporting > $max_amount)::DOUBLE
                    AS observed_value,
                count(*) FILTER (WHERE amount < 0) AS negative,
                count(*) FILTER (WHERE amount_reporting > $max_amount) AS absurd,
                {_sample("deal_id", LIVE_DEALS, "amount < 0 OR amount_reporting > $max_amount")}
                    AS sample
            FROM {LIVE_DEALS}
            """
        ),
        params=("max_amount",),
    ),
    Check(
        name="negative_or_absurd_ad_costs",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "ad cost rows (campaign x day) with a negative cost or a spend above "
            "max_daily_cost in the reporting currency"
        ),
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope,
                count(*) FILTER (WHERE cost < 0 OR spend > $max_daily_cost)::DOUBLE
                    AS observed_value,
                count(*) FILTER (WHERE cost < 0) AS negative,
                count(*) FILTER (WHERE spend > $max_daily_cost) AS absurd,
                {_ABSURD_AD_COSTS_SAMPLE} AS sample
            FROM {AD_SPEND}
            """
        ),
        params=("max_daily_cost",),
    ),
    Check(
        name="future_dates",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "lead creations, deal closes, stage entries and ad report days later than "
            "the check time plus tolerance_hours"
        ),
        measure=sql_measure(
            f"""
            WITH future AS (
                SELECT
                    (SELECT count(*) FROM {LEADS} WHERE created_at > {_FUTURE}) AS leads,
                    (SELECT count(*) FROM {DEALS} WHERE closed_at > {_FUTURE}) AS deals,
                    (SELECT count(*) FROM {STAGE_EVENTS} WHERE entered_at > {_FUTURE})
                        AS stage_events,
                    (SELECT count(*) FROM {AD_SPEND} WHERE spend_date > CAST({_FUTURE} AS DATE))
                        AS ad_spend
            )
            SELECT 'all' AS scope, (leads + deals + stage_events + ad_spend)::DOUBLE
                AS observed_value, leads, deals, stage_events, ad_spend
            FROM future
            """
        ),
        params=("tolerance_hours",),
    ),
    Check(
        name="amounts_without_rate",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "live deal amounts and ad costs with no exchange rate into the reporting "
            "currency (they count as missing in the marts)"
        ),
        measure=sql_measure(
            f"""
            WITH missing AS (
                SELECT
                    (SELECT count(*) FROM {LIVE_DEALS}
                     WHERE amount <> 0 AND amount_reporting IS NULL) AS deals,
                    (SELECT count(*) FROM {AD_SPEND}
                     WHERE cost <> 0 AND spend IS NULL) AS ad_cost_rows
            )
            SELECT 'all' AS scope, (deals + ad_cost_rows)::DOUBLE AS observed_value,
                deals, ad_cost_rows,
                (SELECT string_agg(currency, ' ') FROM (
                    SELECT currency FROM {LIVE_DEALS}
                    WHERE amount <> 0 AND amount_reporting IS NULL
                    UNION
                    SELECT currency FROM {AD_SPEND} WHERE cost <> 0 AND spend IS NULL
                    ORDER BY currency LIMIT {SAMPLE_SIZE})) AS currencies
            FROM missing
            """
        ),
    ),
    Check(
        name="segments_without_margin_rate",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "segments of live leads with neither a row of their own nor a default row "
            "in the seed margin_rates (their gross profit is unknown)"
        ),
        measure=sql_measure(
            f"""
            WITH missing AS (
                SELECT DISTINCT leads.segment FROM {LIVE_LEADS} AS leads
                WHERE NOT EXISTS (
                    SELECT 1 FROM seeds.margin_rates AS rates
                    WHERE rates.segment IN (leads.segment, 'default')
                )
            )
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value,
                string_agg(segment, ' ' ORDER BY segment) AS segments
            FROM missing
            """
        ),
    ),
    Check(
        name="leads_without_utm_share",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description="share of live leads with no utm_source, utm_medium or utm_campaign",
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope,
                count(*) FILTER (WHERE {_NO_UTM})::DOUBLE / nullif(count(*), 0)
                    AS observed_value,
                count(*) AS leads,
                count(*) FILTER (WHERE {_NO_UTM}) AS without_utm
            FROM {LIVE_LEADS}
            """
        ),
    ),
    Check(
        name="ambiguous_channel_leads",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "live leads whose utm_campaign matches campaigns of several ad platforms "
            "that utm_source cannot tell apart"
        ),
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value,
                {_sample("lead_id", LIVE_LEADS, "channel = 'ambiguous'")} AS sample
            FROM {LIVE_LEADS} WHERE channel = 'ambiguous'
            """
        ),
    ),
    Check(
        name="campaigns_without_leads",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=(
            "campaigns with ad cost that no lead's UTM tags match: their spend reaches "
            "no channel's leads"
        ),
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value,
                sum(spend) AS spend,
                {_sample("platform || ':' || campaign_id", _CAMPAIGNS_WITHOUT_LEADS, "true")}
                    AS sample
            FROM {_CAMPAIGNS_WITHOUT_LEADS}
            """
        ),
    ),
    Check(
        name="unique_lead_id",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description=f"rows beyond the first per lead_id in {INPUT_SCHEMA}.{LEADS}",
        measure=sql_measure(
            f"""
            WITH repeated AS (
                SELECT lead_id, count(*) - 1 AS extra_rows
                FROM {LEADS} GROUP BY lead_id HAVING count(*) > 1
            )
            SELECT 'all' AS scope,
                coalesce(sum(extra_rows), 0)::DOUBLE AS observed_value,
                count(*) AS repeated_lead_ids,
                {_sample("lead_id", "repeated", "true")} AS sample
            FROM repeated
            """
        ),
    ),
    Check(
        name="created_at_not_null",
        layer=Layer.STAGING,
        bound=Bound.MAX,
        description="leads without a creation time: no cohort month, so in no mart",
        measure=sql_measure(
            f"""
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value,
                {_sample("lead_id", LEADS, "created_at IS NULL")} AS sample
            FROM {LEADS} WHERE created_at IS NULL
            """
        ),
    ),
)
