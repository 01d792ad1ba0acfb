{#- The phone strings of each staged contact, one row per phone (the landed list
    unnested), exactly as the CRM holds them: enriched.phone_numbers is keyed on them. -#}
with phones as (
    select contact_id, is_deleted, unnest(phones) as phone
    from {{ ref("stg_amocrm__contacts") }}
)

select
    contact_id,
    is_deleted as is_contact_deleted,
    phone.value as phone_raw,
    phone.enum_code as phone_kind
from phones
