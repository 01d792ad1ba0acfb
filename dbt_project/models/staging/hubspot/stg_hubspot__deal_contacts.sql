{#- The contacts of each deal as of the deal's newest landed associations: a load lands a
    deal's full association list, so older lists (a contact since unlinked) are dropped. -#}
with landed as (
    select deal_id, contact_id, _extracted_at
    from {{ landed_source("hubspot", "deal_contacts") }}
),

newest_load as (
    select deal_id, max(_extracted_at) as extracted_at from landed group by deal_id
)

select distinct landed.deal_id, landed.contact_id
from landed
inner join newest_load
    on landed.deal_id = newest_load.deal_id and landed._extracted_at = newest_load.extracted_at
