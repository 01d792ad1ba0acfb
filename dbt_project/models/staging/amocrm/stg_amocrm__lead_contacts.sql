{#- The contacts linked to each staged lead, one row per link (the landed list unnested). -#}
with leads as (
    select lead_id, unnest(contacts) as contact
    from {{ ref("stg_amocrm__leads") }}
)

select
    lead_id,
    contact.contact_id as contact_id,
    coalesce(contact.is_main, false) as is_main
from leads
