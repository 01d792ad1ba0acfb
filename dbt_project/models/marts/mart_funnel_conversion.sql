{#- The funnel per cohort month × segment × channel × canonical stage, with roll-ups
    marked `all` (METRICS.md, Funnel and drop-offs). A lead has entered every stage up to
    its furthest one (a skipped stage counts as passed; every lead enters the first
    stage; `won` only while a deal is won), so entered(won) = won_leads of
    mart_unit_economics. Each roll-up counts the leads it covers, and its conversions are
    recomputed from those counts. -#}
with leads as (
    select
        leads.cohort_month,
        leads.segment,
        leads.channel,
        outcomes.furthest_stage_order
    from {{ ref("int_leads_enriched") }} as leads
    inner join {{ ref("int_leads_outcomes") }} as outcomes
        on leads.lead_id = outcomes.lead_id
    where not leads.is_deleted
),

entered as (
    select
        leads.cohort_month,
        case when grouping(leads.segment) = 1 then 'all' else leads.segment end as segment,
        case when grouping(leads.channel) = 1 then 'all' else leads.channel end as channel,
        stages.funnel_stage,
        stages.stage_order,
        cast(
            sum(case when leads.furthest_stage_order >= stages.stage_order then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as entered
    from leads
    cross join {{ ref("funnel_stages") }} as stages
    group by grouping sets (
        (leads.cohort_month, leads.segment, leads.channel, stages.funnel_stage, stages.stage_order),
        (leads.cohort_month, leads.channel, stages.funnel_stage, stages.stage_order),
        (leads.cohort_month, leads.segment, stages.funnel_stage, stages.stage_order),
        (leads.cohort_month, stages.funnel_stage, stages.stage_order)
    )
)

select
    cohort_month,
    segment,
    channel,
    funnel_stage,
    cast(stage_order as integer) as stage_order,
    entered,
    {{ ratio(
        "lead(entered) over (partition by cohort_month, segment, channel order by stage_order)",
        "entered",
    ) }} as conversion_to_next
from entered
