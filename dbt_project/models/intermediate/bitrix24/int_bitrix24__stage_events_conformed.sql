{#- A deal's entries into pipeline stages: every crm.stagehistory.list item of a staged
    deal (TYPE_ID 1 is the stage it was created in). Lead status history is not a deal
    stage: a junk lead's lost deal has no event and drops off at the first stage. -#}
select
    {{ dbt.concat(["'bitrix24:'", dbt.cast("history.history_id", dbt.type_string())]) }}
        as stage_event_id,
    {{ dbt.concat(["'bitrix24:'", dbt.cast("history.owner_id", dbt.type_string())]) }}
        as deal_id,
    'bitrix24' as source,
    {{ dbt.cast("coalesce(history.category_id, 0)", dbt.type_string()) }} as pipeline_id,
    history.stage_id as status_id,
    history.created_time as entered_at,
    coalesce(history.type_id = 1, false) as is_initial_status
from {{ ref("stg_bitrix24__stage_history") }} as history
inner join {{ ref("stg_bitrix24__deals") }} as deals on history.owner_id = deals.deal_id
where history.entity_type_id = 2
