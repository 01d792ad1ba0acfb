{#- Each lead's raw phone strings with the libphonenumber verdict computed in Python
    (enriched.phone_numbers). A string the phone refresh has not seen yet has no verdict:
    is_valid stays NULL. -#}
with lead_phones as (
    select * from {{ ref("int_amocrm__lead_phones_joined") }}
    union all
    select * from {{ ref("int_bitrix24__lead_phones_joined") }}
    union all
    select * from {{ ref("int_hubspot__lead_phones_joined") }}
)

select
    lead_phones.lead_id,
    lead_phones.source,
    lead_phones.phone_raw,
    phone_numbers.e164,
    phone_numbers.is_valid,
    phone_numbers.invalid_reason
from lead_phones
left join {{ ref("stg_enriched__phone_numbers") }} as phone_numbers
    on lead_phones.phone_raw = phone_numbers.phone_raw
