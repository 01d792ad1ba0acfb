{#- Unit economics per cohort month × segment × channel with roll-ups marked `all`
    (METRICS.md, Unit economics). Every source row is a fact of one kind (a lead, a won
    deal, an allocated ad cost, an allocated other cost); sums, ratios and medians of
    every row, detail or roll-up, are computed from these facts, never from other rows.
    Deleted leads and deals are excluded everywhere. -#}
{%- set float_type = type_double() %}

with leads as (
    select
        leads.lead_id,
        leads.cohort_month,
        leads.segment,
        leads.channel,
        qualified.is_target
    from {{ ref("int_leads_enriched") }} as leads
    inner join {{ ref("int_leads_qualified") }} as qualified
        on leads.lead_id = qualified.lead_id
    where not leads.is_deleted
),

won_deals as (
    select deals.lead_id, deals.amount_reporting, deals.days_to_won
    from {{ ref("int_deals_converted") }} as deals
    where deals.status = 'won'
        and not deals.is_deleted
),

margin_rates as (
    select
        segments.segment,
        coalesce(own_rate.margin_rate, default_rate.margin_rate) as margin_rate
    from (select distinct segment from leads) as segments
    left join {{ ref("margin_rates") }} as own_rate
        on segments.segment = own_rate.segment
    left join {{ ref("margin_rates") }} as default_rate
        on default_rate.segment = 'default'
),

lead_facts as (
    select
        cohort_month,
        segment,
        channel,
        1 as leads,
        case when is_target then 1 else 0 end as target_leads,
        case
            when exists (select 1 from won_deals where won_deals.lead_id = leads.lead_id)
                then 1
            else 0
        end as won_leads,
        0 as won_deals,
        cast(null as {{ float_type }}) as revenue,
        cast(null as {{ float_type }}) as gross_profit,
        0 as unknown_gross_profits,
        cast(null as {{ float_type }}) as days_to_won,
        cast(null as {{ float_type }}) as spend,
        cast(null as {{ float_type }}) as other_costs
    from leads
),

won_deal_facts as (
    select
        leads.cohort_month,
        leads.segment,
        leads.channel,
        0 as leads,
        0 as target_leads,
        0 as won_leads,
        1 as won_deals,
        won_deals.amount_reporting as revenue,
        won_deals.amount_reporting * margin_rates.margin_rate as gross_profit,
        case
            when won_deals.amount_reporting * margin_rates.margin_rate is null then 1 else 0
        end as unknown_gross_profits,
        won_deals.days_to_won,
        cast(null as {{ float_type }}) as spend,
        cast(null as {{ float_type }}) as other_costs
    from won_deals
    inner join leads on won_deals.lead_id = leads.lead_id
    left join margin_rates on leads.segment = margin_rates.segment
),

spend_facts as (
    select
        cohort_month,
        segment,
        channel,
        0 as leads,
        0 as target_leads,
        0 as won_leads,
        0 as won_deals,
        cast(null as {{ float_type }}) as revenue,
        cast(null as {{ float_type }}) as gross_profit,
        0 as unknown_gross_profits,
        cast(null as {{ float_type }}) as days_to_won,
        spend,
        cast(null as {{ float_type }}) as other_costs
    from {{ ref("int_ad_spend_allocated") }}
),

other_cost_facts as (
    select
        cohort_month,
        segment,
        channel,
        0 as leads,
        0 as target_leads,
        0 as won_leads,
        0 as won_deals,
        cast(null as {{ float_type }}) as revenue,
        cast(null as {{ float_type }}) as gross_profit,
        0 as unknown_gross_profits,
        cast(null as {{ float_type }}) as days_to_won,
        cast(null as {{ float_type }}) as spend,
        other_costs
    from {{ ref("int_other_costs_allocated") }}
),

facts as (
    select * from lead_facts
    union all
    select * from won_deal_facts
    union all
    select * from spend_facts
    union all
    select * from other_cost_facts
),

totals as (
    select
        cohort_month,
        case when grouping(segment) = 1 then 'all' else segment end as segment,
        case when grouping(channel) = 1 then 'all' else channel end as channel,
        cast(sum(leads) as {{ dbt.type_bigint() }}) as leads,
        cast(sum(target_leads) as {{ dbt.type_bigint() }}) as target_leads,
        coalesce(sum(spend), 0) as spend,
        coalesce(sum(other_costs), 0) as other_costs,
        cast(sum(won_leads) as {{ dbt.type_bigint() }}) as won_leads,
        cast(sum(won_deals) as {{ dbt.type_bigint() }}) as won_deals,
        coalesce(sum(revenue), 0) as revenue,
        case
            when sum(unknown_gross_profits) > 0 then null
            else coalesce(sum(gross_profit), 0)
        end as gross_profit,
        {{ median("days_to_won") }} as median_days_to_won
    from facts
    group by grouping sets (
        (cohort_month, segment, channel),
        (cohort_month, channel),
        (cohort_month, segment),
        (cohort_month)
    )
)

select
    cohort_month,
    segment,
    channel,
    leads,
    target_leads,
    1 - cast(target_leads as {{ float_type }}) / nullif(leads, 0) as non_target_share,
    spend,
    other_costs,
    spend / nullif(leads, 0) as cpl,
    spend / nullif(target_leads, 0) as cost_per_target_lead,
    won_leads,
    won_deals,
    revenue,
    revenue / nullif(won_deals, 0) as avg_check,
    (spend + other_costs) / nullif(won_leads, 0) as cac,
    cast(won_leads as {{ float_type }}) / nullif(leads, 0) as lead_to_won,
    gross_profit,
    (gross_profit - spend) / nullif(spend, 0) as romi,
    (gross_profit - spend - other_costs) / nullif(spend + other_costs, 0) as roi,
    median_days_to_won
from totals
