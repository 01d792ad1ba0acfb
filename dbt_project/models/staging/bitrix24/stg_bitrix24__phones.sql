{#- The phone strings of every staged lead and contact, one row per phone, exactly as the
    CRM holds them (enriched.phone_numbers is keyed on them). Bitrix24 keeps phones on
    the lead itself and on the contact of a deal. -#}
with lead_phones as (
    select 'lead' as owner_type, lead_id as owner_id, unnest(phones) as phone
    from {{ ref("stg_bitrix24__leads") }}
),

contact_phones as (
    select 'contact' as owner_type, contact_id as owner_id, unnest(phones) as phone
    from {{ ref("stg_bitrix24__contacts") }}
),

phones as (
    select * from lead_phones
    union all
    select * from contact_phones
)

select
    owner_type,
    owner_id,
    phone.value as phone_raw,
    phone.value_type as phone_kind
from phones
