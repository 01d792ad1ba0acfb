{#- Lost deals per cohort month × segment × channel × drop-off stage × reason (METRICS.md,
    Funnel and drop-offs). A lost deal drops off at the furthest canonical stage it reached
    (the first stage when it reached none); its reason is the canonical reason of the seed
    loss_reason_mapping, an unmapped CRM reason under its own name, or `no_reason_given`.
    The cohort, segment and channel are its lead's. Detail rows only: no `all` roll-ups. -#}
with lost_deals as (
    select
        leads.cohort_month,
        leads.segment,
        leads.channel,
        stages.dropoff_stage as funnel_stage,
        deals.dropoff_reason as reason
    from {{ ref("int_deals_converted") }} as deals
    inner join {{ ref("int_deals_stages_summarized") }} as stages
        on deals.deal_id = stages.deal_id
    inner join {{ ref("int_leads_enriched") }} as leads
        on deals.lead_id = leads.lead_id
    where deals.status = 'lost'
        and not deals.is_deleted
        and not leads.is_deleted
),

counted as (
    select
        cohort_month,
        segment,
        channel,
        funnel_stage,
        reason,
        cast(count(*) as {{ dbt.type_bigint() }}) as lost_deals
    from lost_deals
    group by cohort_month, segment, channel, funnel_stage, reason
)

select
    cohort_month,
    segment,
    channel,
    funnel_stage,
    reason,
    lost_deals,
    {{ ratio(
        "lost_deals",
        "sum(lost_deals) over (partition by cohort_month, segment, channel, funnel_stage)",
    ) }} as share_of_stage_losses
from counted
