{#- Ad spend of each campaign-month spread over segments in proportion to the campaign's
    leads of that cohort month (deleted and ambiguous leads take no share). A
    campaign-month with cost and no lead keeps its cost under segment `no_leads`. The
    channel is the campaign's platform; the month is the report date's month. -#}
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

campaign_leads as (
    select
        campaign_segment_leads.*,
        sum(leads) over (partition by platform, campaign_id, cohort_month) as campaign_month_leads
    from campaign_segment_leads
)

select
    campaign_months.spend_month as cohort_month,
    coalesce(campaign_leads.segment, 'no_leads') as segment,
    campaign_months.platform as channel,
    campaign_months.campaign_id,
    case
        when campaign_leads.segment is null then campaign_months.spend
        else campaign_months.spend * campaign_leads.leads / campaign_leads.campaign_month_leads
    end as spend
from campaign_months
left join campaign_leads
    on campaign_months.platform = campaign_leads.platform
    and campaign_months.campaign_id = campaign_leads.campaign_id
    and campaign_months.spend_month = campaign_leads.cohort_month
