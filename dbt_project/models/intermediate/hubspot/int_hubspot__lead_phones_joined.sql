{#- The raw phone strings of each canonical HubSpot lead: its contact's phone and mobile
    phone; a lead made from a deal has none (HubSpot deals hold no phone). -#}
with phones as (
    select contact_id, unnest([phone, mobile_phone]) as phone_raw
    from {{ ref("stg_hubspot__contacts") }}
)

select distinct
    {{ dbt.concat(["'hubspot:'", dbt.cast("contact_id", dbt.type_string())]) }} as lead_id,
    'hubspot' as source,
    phone_raw
from phones
where phone_raw is not null
