{#- Where each lead got, over its non-deleted deals (METRICS.md, Funnel and mart_leads):
    - status: `won` when any deal is won, else `open` when any is open, else `lost`; a lead
      without a deal is `open` (nothing has closed it);
    - furthest stage: the furthest stage any deal reached; the first stage without a deal;
    - drop-off stage and reason: those of its most recently closed lost deal (then the
      highest deal id), only when the lead is lost;
    - revenue: the sum of its won deals' amounts in the reporting currency, 0 when none (an
      amount without an exchange rate counts as missing: the quality gate flags it);
    - days_to_won: from creation to its first won deal's close; hours to first stage
      change: from creation to the first status change of any of its deals. -#}
{#- A table, not a view: every mart and the quality gate read it, so it is computed once
    a run. -#}
{{ config(materialized="table") }}
with deals as (
    select
        deals.deal_id,
        deals.lead_id,
        deals.status,
        deals.amount_reporting,
        deals.closed_at,
        deals.dropoff_reason,
        stages.furthest_stage_order,
        stages.dropoff_stage,
        stages.first_status_change_at
    from {{ ref("int_deals_converted") }} as deals
    inner join {{ ref("int_deals_stages_summarized") }} as stages
        on deals.deal_id = stages.deal_id
    where not deals.is_deleted
),

deal_summaries as (
    select
        lead_id,
        count(case when status = 'won' then 1 end) as won_deals,
        count(case when status = 'open' then 1 end) as open_deals,
        sum(case when status = 'won' then amount_reporting end) as revenue,
        min(case when status = 'won' then closed_at end) as first_won_at,
        max(furthest_stage_order) as furthest_stage_order,
        min(first_status_change_at) as first_status_change_at
    from deals
    group by lead_id
),

latest_lost_deals as (
    select
        lead_id,
        dropoff_stage,
        dropoff_reason,
        row_number() over (
            partition by lead_id order by closed_at desc nulls last, deal_id desc
        ) as loss_rank
    from deals
    where status = 'lost'
),

outcomes as (
    select
        leads.lead_id,
        leads.created_at,
        case
            when deal_summaries.won_deals > 0 then 'won'
            when deal_summaries.open_deals > 0 or deal_summaries.lead_id is null then 'open'
            else 'lost'
        end as status,
        coalesce(deal_summaries.won_deals, 0) as won_deals,
        cast(coalesce(deal_summaries.revenue, 0) as {{ type_money() }}) as revenue,
        coalesce(
            deal_summaries.furthest_stage_order,
            (select min(stage_order) from {{ ref("funnel_stages") }})
        ) as furthest_stage_order,
        deal_summaries.first_won_at,
        deal_summaries.first_status_change_at
    from {{ ref("int_leads_enriched") }} as leads
    left join deal_summaries on leads.lead_id = deal_summaries.lead_id
)

select
    outcomes.lead_id,
    outcomes.status,
    outcomes.won_deals,
    outcomes.revenue,
    outcomes.furthest_stage_order,
    funnel_stages.funnel_stage as furthest_stage,
    case when outcomes.status = 'lost' then latest_lost_deals.dropoff_stage end as dropoff_stage,
    case when outcomes.status = 'lost' then latest_lost_deals.dropoff_reason end as dropoff_reason,
    {{ seconds_between("outcomes.created_at", "outcomes.first_won_at") }} / 86400 as days_to_won,
    {{ seconds_between("outcomes.created_at", "outcomes.first_status_change_at") }} / 3600
        as hours_to_first_stage_change
from outcomes
inner join {{ ref("funnel_stages") }} as funnel_stages
    on outcomes.furthest_stage_order = funnel_stages.stage_order
left join latest_lost_deals
    on outcomes.lead_id = latest_lost_deals.lead_id
    and latest_lost_deals.loss_rank = 1
