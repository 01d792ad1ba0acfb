{#- The raw phone strings of each canonical Bitrix24 lead: a crm.lead's own PHONE values
    and those of its contact; for a lead made from a deal, those of the deal's contact. -#}
with phones as (
    select * from {{ ref("stg_bitrix24__phones") }}
),

lead_owned as (
    select
        {{ dbt.concat(["'bitrix24:'", dbt.cast("leads.lead_id", dbt.type_string())]) }}
            as lead_id,
        phones.phone_raw
    from {{ ref("stg_bitrix24__leads") }} as leads
    inner join phones
        on (phones.owner_type = 'lead' and phones.owner_id = leads.lead_id)
        or (phones.owner_type = 'contact' and phones.owner_id = leads.contact_id)
),

deal_owned as (
    select deal_leads.lead_id, phones.phone_raw
    from {{ ref("stg_bitrix24__deals") }} as deals
    inner join {{ ref("int_bitrix24__deal_leads") }} as deal_leads
        on deals.deal_id = deal_leads.deal_id
        and deal_leads.is_lead_made_from_deal
    inner join phones
        on phones.owner_type = 'contact' and phones.owner_id = deals.contact_id
)

select distinct lead_id, 'bitrix24' as source, phone_raw
from (
    select * from lead_owned
    union all
    select * from deal_owned
) as owned
where phone_raw is not null
