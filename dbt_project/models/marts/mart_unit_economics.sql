{#- Unit economics per cohort month × segment × channel with roll-ups marked `all`
    (METRICS.md, Unit economics). Every source row is a fact of one kind (a lead, a won
    deal, an allocated ad cost, an allocated other cost); sums, ratios and medians of
    every row, detail or roll-up, are computed from these facts, never from other rows.
    Deleted leads and deals are excluded everywhere. Money is exact (macros/money.sql):
    sums of decimals, money per unit rounded once to the micro-unit, float ratios taken
    from the exact sums. -#}
{%- set money = type_money() %}
{%- set float_type = type_double() %}

with leads as (
    select
        leads.lead_id,
        leads.cohort_month,
        leads.segment,
        leads.channel,
        qualified.is_target,
        outcomes.status
    from {{ ref("int_leads_enriched") }} as leads
    inner join {{ ref("int_leads_qualified") }} as qualified
        on leads.lead_id = qualified.lead_id
    inner join {{ ref("int_leads_outcomes") }} as outcomes
        on leads.lead_id = outcomes.lead_id
    where not leads.is_deleted
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

{#- A won deal's gross profit is rounded to the micro-unit on its own row, so the roll-ups
    add up exactly. It is unknown only when the segment has no margin rate and the deal an
    amount. -#}
won_deals as (
    select
        leads.cohort_month,
        leads.segment,
        leads.channel,
        deals.amount_reporting,
        deals.days_to_won,
        margin_rates.margin_rate,
        cast(deals.amount_reporting * margin_rates.margin_rate as {{ money }}) as gross_profit
    from {{ ref("int_deals_converted") }} as deals
    inner join leads on deals.lead_id = leads.lead_id
    left join margin_rates on leads.segment = margin_rates.segment
    where deals.status = 'won'
        and not deals.is_deleted
),

lead_facts as (
    select
        cohort_month,
        segment,
        channel,
        1 as leads,
        case when is_target then 1 else 0 end as target_leads,
        case when status = 'won' then 1 else 0 end as won_leads,
        0 as won_deals,
        cast(null as {{ money }}) as revenue,
        cast(null as {{ money }}) as gross_profit,
        0 as unknown_gross_profits,
        cast(null as {{ float_type }}) as days_to_won,
        cast(null as {{ money }}) as spend,
        cast(null as {{ money }}) as other_costs
    from leads
),

won_deal_facts as (
    select
        cohort_month,
        segment,
        channel,
        0 as leads,
        0 as target_leads,
        0 as won_leads,
        1 as won_deals,
        amount_reporting as revenue,
        gross_profit,
        case
            when margin_rate is null and coalesce(amount_reporting, 0) <> 0 then 1 else 0
        end as unknown_gross_profits,
        days_to_won,
        cast(null as {{ money }}) as spend,
        cast(null as {{ money }}) as other_costs
    from won_deals
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
        cast(null as {{ money }}) as revenue,
        cast(null as {{ money }}) as gross_profit,
        0 as unknown_gross_profits,
        cast(null as {{ float_type }}) as days_to_won,
        spend,
        cast(null as {{ money }}) as other_costs
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
        cast(null as {{ money }}) as revenue,
        cast(null as {{ money }}) as gross_profit,
        0 as unknown_gross_profits,
        cast(null as {{ float_type }}) as days_to_won,
        cast(null as {{ money }}) as spend,
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

{#- grouping sets and grouping() are standard SQL, the same on DuckDB and Postgres. -#}
totals as (
    select
        cohort_month,
        case when grouping(segment) = 1 then 'all' else segment end as segment,
        case when grouping(channel) = 1 then 'all' else channel end as channel,
        cast(sum(leads) as {{ dbt.type_bigint() }}) as leads,
        cast(sum(target_leads) as {{ dbt.type_bigint() }}) as target_leads,
        cast(coalesce(sum(spend), 0) as {{ money }}) as spend,
        cast(coalesce(sum(other_costs), 0) as {{ money }}) as other_costs,
        cast(sum(won_leads) as {{ dbt.type_bigint() }}) as won_leads,
        cast(sum(won_deals) as {{ dbt.type_bigint() }}) as won_deals,
        cast(coalesce(sum(revenue), 0) as {{ money }}) as revenue,
        cast(
            case
                when sum(unknown_gross_profits) > 0 then null
                else coalesce(sum(gross_profit), 0)
            end as {{ money }}
        ) as gross_profit,
        cast({{ median("days_to_won") }} as {{ float_type }}) as median_days_to_won
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
    {{ ratio("leads - target_leads", "leads") }} as non_target_share,
    spend,
    other_costs,
    {{ divide_money("spend", "leads") }} as cpl,
    {{ divide_money("spend", "target_leads") }} as cost_per_target_lead,
    won_leads,
    won_deals,
    revenue,
    {{ divide_money("revenue", "won_deals") }} as avg_check,
    {{ divide_money("spend + other_costs", "won_leads") }} as cac,
    {{ ratio("won_leads", "leads") }} as lead_to_won,
    gross_profit,
    {{ ratio("gross_profit - spend", "spend") }} as romi,
    {{ ratio("gross_profit - spend - other_costs", "spend + other_costs") }} as roi,
    median_days_to_won
from totals
