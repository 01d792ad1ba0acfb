{#- A deal's entries into pipeline stages: every dealstage history entry of a staged deal;
    the earliest one is the stage it was created in. History holds no pipeline: a deal's
    entries are in its current pipeline (stage ids are unique across HubSpot pipelines). -#}
with history as (
    select
        history.*,
        row_number() over (
            partition by history.deal_id order by history.changed_at, history.stage_id
        ) as entry_order
    from {{ ref("stg_hubspot__stage_history") }} as history
)

select
    {{ dbt.concat([
        "'hubspot:'", dbt.cast("history.deal_id", dbt.type_string()), "':'",
        "history.stage_id", "':'", dbt.cast("epoch_ms(history.changed_at)", dbt.type_string()),
    ]) }} as stage_event_id,
    {{ dbt.concat(["'hubspot:'", dbt.cast("history.deal_id", dbt.type_string())]) }} as deal_id,
    'hubspot' as source,
    deals.pipeline_id,
    history.stage_id as status_id,
    history.changed_at as entered_at,
    history.entry_order = 1 as is_initial_status
from history
inner join {{ ref("stg_hubspot__deals") }} as deals on history.deal_id = deals.deal_id
where history.stage_id is not null
