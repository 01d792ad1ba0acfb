{#- A deal's entries into pipeline statuses: every lead_status_changed event, plus the
    status the lead was created in, entered at its creation. That initial status is the
    `before` side of the lead's earliest event, or its current status when it never
    moved. -#}
with leads as (
    select * from {{ ref("stg_amocrm__leads") }}
),

status_changes as (
    select * from {{ ref("stg_amocrm__status_changes") }}
),

earliest_changes as (
    select
        lead_id,
        pipeline_id_before,
        status_id_before,
        row_number() over (partition by lead_id order by created_at, event_id) as change_rank
    from status_changes
),

initial_statuses as (
    select
        {{ dbt.concat(["'amocrm:initial:'", dbt.cast("leads.lead_id", dbt.type_string())]) }}
            as stage_event_id,
        leads.lead_id,
        case
            when earliest_changes.lead_id is null then leads.pipeline_id
            else earliest_changes.pipeline_id_before
        end as pipeline_id,
        case
            when earliest_changes.lead_id is null then leads.status_id
            else earliest_changes.status_id_before
        end as status_id,
        leads.created_at as entered_at,
        true as is_initial_status
    from leads
    left join earliest_changes
        on leads.lead_id = earliest_changes.lead_id
        and earliest_changes.change_rank = 1
),

changed_statuses as (
    select
        {{ dbt.concat(["'amocrm:'", "status_changes.event_id"]) }} as stage_event_id,
        status_changes.lead_id,
        status_changes.pipeline_id_after as pipeline_id,
        status_changes.status_id_after as status_id,
        status_changes.created_at as entered_at,
        false as is_initial_status
    from status_changes
    inner join leads on status_changes.lead_id = leads.lead_id
),

stage_events as (
    select * from initial_statuses
    union all
    select * from changed_statuses
)

select
    stage_event_id,
    {{ dbt.concat(["'amocrm:'", dbt.cast("lead_id", dbt.type_string())]) }} as deal_id,
    'amocrm' as source,
    {{ dbt.cast("pipeline_id", dbt.type_string()) }} as pipeline_id,
    {{ dbt.cast("status_id", dbt.type_string()) }} as status_id,
    entered_at,
    is_initial_status
from stage_events
