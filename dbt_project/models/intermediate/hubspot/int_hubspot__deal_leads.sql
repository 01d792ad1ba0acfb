{#- The canonical lead of every HubSpot deal (METRICS.md, "What a lead is"): its
    earliest-created associated contact (then the lowest contact id), archived or merged
    ones included, so a deal leaves the marts with its contact. A deal with no staged
    contact gets a lead of its own made from the deal (`hubspot:deal:<id>`), as a Bitrix24
    deal without a lead does, so that no deal's revenue is lost. -#}
with owners as (
    select
        deal_contacts.deal_id,
        contacts.contact_id,
        row_number() over (
            partition by deal_contacts.deal_id
            order by contacts.created_at nulls last, contacts.contact_id
        ) as contact_rank
    from {{ ref("stg_hubspot__deal_contacts") }} as deal_contacts
    inner join {{ ref("stg_hubspot__contacts") }} as contacts
        on deal_contacts.contact_id = contacts.contact_id
)

select
    deals.deal_id,
    case
        when owners.contact_id is not null
            then {{ dbt.concat(["'hubspot:'", dbt.cast("owners.contact_id", dbt.type_string())]) }}
        else {{ dbt.concat(["'hubspot:deal:'", dbt.cast("deals.deal_id", dbt.type_string())]) }}
    end as lead_id,
    owners.contact_id is null as is_lead_made_from_deal
from {{ ref("stg_hubspot__deals") }} as deals
left join owners on deals.deal_id = owners.deal_id and owners.contact_rank = 1
