{#- amoCRM has no separate deal: each lead is its own single deal (deal_id = lead_id).
    The system statuses 142 and 143 mean won and lost in every pipeline. -#}
with leads as (
    select * from {{ ref("stg_amocrm__leads") }}
),

loss_reasons as (
    select * from {{ ref("stg_amocrm__loss_reasons") }}
)

select
    {{ dbt.concat(["'amocrm:'", dbt.cast("leads.lead_id", dbt.type_string())]) }} as deal_id,
    {{ dbt.concat(["'amocrm:'", dbt.cast("leads.lead_id", dbt.type_string())]) }} as lead_id,
    'amocrm' as source,
    {{ dbt.cast("leads.pipeline_id", dbt.type_string()) }} as pipeline_id,
    {{ dbt.cast("leads.status_id", dbt.type_string()) }} as status_id,
    case leads.status_id
        when 142 then 'won'
        when 143 then 'lost'
        else 'open'
    end as status,
    leads.price as amount,
    '{{ var("crm_currencies")["amocrm"] }}' as currency,
    leads.created_at,
    case when leads.status_id in (142, 143) then leads.closed_at end as closed_at,
    case when leads.status_id = 143 then loss_reasons.name end as loss_reason,
    coalesce(leads.is_deleted, false) as is_deleted
from leads
left join loss_reasons on leads.loss_reason_id = loss_reasons.loss_reason_id
