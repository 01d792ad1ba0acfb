{#- Ad spend of each campaign-month spread over segments in proportion to the campaign's
    leads of that cohort month (deleted and ambiguous leads take no share), exactly: the
    segments' parts add up to the campaign-month's spend to the micro-unit (see
    allocate_proportionally). A campaign-month with cost and no lead keeps its cost under
    segment `no_leads`. The channel is the campaign's platform; the month is the report
    date's month. A day without an exchange rate has spend NULL: the month's sum skips it
    and the quality gate flags it. -#}
with campaign_months as (
    select
        platform,
        campaign_id,
        cast({{ dbt.date_trunc("month", "spend_date") }} as date) as spend_month,
        sum(spend) as spend
    from {{ ref("int_ad_spend_converted") }}
    group by 1, 2, 3
),

campaign_segment_leads as (
    select
        platform,
        campaign_id,
        cohort_month,
        segment,
        count(*) as leads
    from {{ ref("int_leads_enriched") }}
    where not is_deleted
        and campaign_id is not null
    group by 1, 2, 3, 4
),

campaign_month_segments as (
    select
        campaign_months.platform,
        campaign_months.campaign_id,
        campaign_months.spend_month,
        campaign_months.spend,
        campaign_segment_leads.segment,
        campaign_segment_leads.leads
    from campaign_months
    inner join campaign_segment_leads
        on campaign_months.platform = campaign_segment_leads.platform
        and campaign_months.campaign_id = campaign_segment_leads.campaign_id
        and campaign_months.spend_month = campaign_segment_leads.cohort_month
),

allocated as (
    {{ allocate_proportionally(
        "campaign_month_segments",
        group_by=["platform", "campaign_id", "spend_month"],
        amount="spend",
        weight="leads",
        tie_breakers=["segment"],
    ) }}
)

select
    spend_month as cohort_month,
    segment,
    platform as channel,
    campaign_id,
    allocated as spend
from allocated

union all

select
    campaign_months.spend_month as cohort_month,
    'no_leads' as segment,
    campaign_months.platform as channel,
    campaign_months.campaign_id,
    campaign_months.spend
from campaign_months
where not exists (
    select 1
    from campaign_month_segments
    where campaign_month_segments.platform = campaign_months.platform
        and campaign_month_segments.campaign_id = campaign_months.campaign_id
        and campaign_month_segments.spend_month = campaign_months.spend_month
)
