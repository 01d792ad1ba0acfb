{#- Every CRM's stage events mapped onto canonical funnel stages by the seed
    stage_mapping. A source status the seed lacks becomes `unmapped`, never dropped.
    stage_order is NULL for `lost` and `unmapped`, which are not funnel steps. -#}
with stage_events as (
    select * from {{ ref("int_amocrm__stage_events_conformed") }}
    union all
    select * from {{ ref("int_bitrix24__stage_events_conformed") }}
    union all
    select * from {{ ref("int_hubspot__stage_events_conformed") }}
)

select
    stage_events.stage_event_id,
    stage_events.deal_id,
    stage_events.source,
    stage_events.pipeline_id,
    stage_events.status_id,
    stage_events.entered_at,
    stage_events.is_initial_status,
    coalesce(stage_mapping.funnel_stage, 'unmapped') as funnel_stage,
    funnel_stages.stage_order
from stage_events
left join {{ ref("stage_mapping") }} as stage_mapping
    on stage_events.source = stage_mapping.source
    and stage_events.pipeline_id = stage_mapping.pipeline_id
    and stage_events.status_id = stage_mapping.status_id
left join {{ ref("funnel_stages") }} as funnel_stages
    on stage_mapping.funnel_stage = funnel_stages.funnel_stage
