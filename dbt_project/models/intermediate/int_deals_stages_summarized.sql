{#- Where each deal got in the canonical funnel (METRICS.md, Funnel and drop-offs).
    The furthest stage is the highest-ordered stage it entered; the last stage of
    funnel_stages (won) counts only for a deal won at the last refresh, so a reopened
    deal counts by the other stages it reached. A deal that never entered a mapped stage
    is at the first stage. A lost deal drops off at its furthest stage. -#}
with funnel_bounds as (
    select min(stage_order) as first_order, max(stage_order) as won_order
    from {{ ref("funnel_stages") }}
),

deals as (
    select deal_id, status from {{ ref("int_deals_conformed") }}
),

reached as (
    select
        events.deal_id,
        max(case when events.stage_order < funnel_bounds.won_order then events.stage_order end)
            as furthest_open_order,
        min(case when not events.is_initial_status then events.entered_at end)
            as first_status_change_at
    from {{ ref("int_stage_events_mapped") }} as events
    cross join funnel_bounds
    group by events.deal_id
),

furthest as (
    select
        deals.deal_id,
        deals.status,
        reached.first_status_change_at,
        case
            when deals.status = 'won' then funnel_bounds.won_order
            else coalesce(reached.furthest_open_order, funnel_bounds.first_order)
        end as furthest_stage_order
    from deals
    cross join funnel_bounds
    left join reached on deals.deal_id = reached.deal_id
)

select
    furthest.deal_id,
    furthest.furthest_stage_order,
    funnel_stages.funnel_stage as furthest_stage,
    case when furthest.status = 'lost' then funnel_stages.funnel_stage end as dropoff_stage,
    furthest.first_status_change_at
from furthest
inner join {{ ref("funnel_stages") }} as funnel_stages
    on furthest.furthest_stage_order = funnel_stages.stage_order
