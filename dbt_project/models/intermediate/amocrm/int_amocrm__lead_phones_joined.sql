{#- The raw phone strings of each lead: those of every linked contact that is not
    deleted. -#}
select distinct
    {{ dbt.concat(["'amocrm:'", dbt.cast("lead_contacts.lead_id", dbt.type_string())]) }}
        as lead_id,
    'amocrm' as source,
    contact_phones.phone_raw
from {{ ref("stg_amocrm__lead_contacts") }} as lead_contacts
inner join {{ ref("stg_amocrm__contact_phones") }} as contact_phones
    on lead_contacts.contact_id = contact_phones.contact_id
where not coalesce(contact_phones.is_contact_deleted, false)
    and contact_phones.phone_raw is not null
