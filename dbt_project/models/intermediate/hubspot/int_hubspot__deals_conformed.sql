{#- HubSpot deals in the canonical deal shape, each with its lead (int_hubspot__deal_leads).
    Won or lost by hs_is_closed_won / hs_is_closed; closed when the deal last entered its
    current closed stage (stage history), else at its closedate. HubSpot keeps no loss
    reason among the landed properties. -#}
with deals as (
    select * from {{ ref("stg_hubspot__deals") }}
),

current_stage_entries as (
    select history.deal_id, max(history.changed_at) as entered_at
    from {{ ref("stg_hubspot__stage_history") }} as history
    inner join deals
        on history.deal_id = deals.deal_id and history.stage_id = deals.stage_id
    group by history.deal_id
)

select
    {{ dbt.concat(["'hubspot:'", dbt.cast("deals.deal_id", dbt.type_string())]) }} as deal_id,
    deal_leads.lead_id,
    'hubspot' as source,
    deals.pipeline_id,
    deals.stage_id as status_id,
    case
        when deals.is_closed_won then 'won'
        when deals.is_closed then 'lost'
        else 'open'
    end as status,
    deals.amount,
    coalesce(deals.currency, '{{ var("crm_currencies")["hubspot"] }}') as currency,
    deals.created_at,
    case
        when deals.is_closed then coalesce(current_stage_entries.entered_at, deals.closed_at)
    end as closed_at,
    cast(null as varchar) as loss_reason,
    deals.is_deleted
from deals
inner join {{ ref("int_hubspot__deal_leads") }} as deal_leads
    on deals.deal_id = deal_leads.deal_id
left join current_stage_entries on deals.deal_id = current_stage_entries.deal_id
