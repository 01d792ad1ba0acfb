{#- HubSpot leads in the canonical lead shape: every contact (created = lead created), plus
    a lead made from each deal without a contact (int_hubspot__deal_leads). UTM tags and the
    segment come from the properties the seed crm_fields names for each role (HubSpot's
    analytics-source properties by default, or the custom ones the connection lists). -#}
with contacts as (
    select * from {{ ref("stg_hubspot__contacts") }}
),

deals as (
    select * from {{ ref("stg_hubspot__deals") }}
),

field_roles as (
    select lower(trim(field_key)) as property_name, role
    from {{ ref("crm_fields") }}
    where source = 'hubspot'
),

owner_properties as (
    select contact_id as owner_id, 'contact' as owner_type, unnest(properties) as property
    from contacts
    union all
    select deal_id as owner_id, 'deal' as owner_type, unnest(properties) as property
    from deals
),

owner_roles as (
    select
        owner_properties.owner_type,
        owner_properties.owner_id,
        min(case when role = 'utm_source' then property.value end) as utm_source,
        min(case when role = 'utm_medium' then property.value end) as utm_medium,
        min(case when role = 'utm_campaign' then property.value end) as utm_campaign,
        min(case when role = 'utm_content' then property.value end) as utm_content,
        min(case when role = 'utm_term' then property.value end) as utm_term,
        min(case when role = 'segment' then property.value end) as segment_value
    from owner_properties
    inner join field_roles
        on lower(trim(owner_properties.property.name)) = field_roles.property_name
    group by owner_properties.owner_type, owner_properties.owner_id
),

contact_leads as (
    select
        {{ dbt.concat(["'hubspot:'", dbt.cast("contacts.contact_id", dbt.type_string())]) }}
            as lead_id,
        'hubspot' as source,
        {{ dbt.cast("contacts.contact_id", dbt.type_string()) }} as source_lead_id,
        contacts.created_at,
        contacts.updated_at,
        contacts.is_deleted,
        owner_roles.utm_source,
        owner_roles.utm_medium,
        owner_roles.utm_campaign,
        owner_roles.utm_content,
        owner_roles.utm_term,
        owner_roles.segment_value
    from contacts
    left join owner_roles
        on owner_roles.owner_type = 'contact' and contacts.contact_id = owner_roles.owner_id
),

leads_made_from_deals as (
    select
        deal_leads.lead_id,
        'hubspot' as source,
        {#- numeric like every source_lead_id (the duplicate rule's tie-breaker) -#}
        {{ dbt.cast("deals.deal_id", dbt.type_string()) }} as source_lead_id,
        deals.created_at,
        deals.updated_at,
        deals.is_deleted,
        owner_roles.utm_source,
        owner_roles.utm_medium,
        owner_roles.utm_campaign,
        owner_roles.utm_content,
        owner_roles.utm_term,
        owner_roles.segment_value
    from deals
    inner join {{ ref("int_hubspot__deal_leads") }} as deal_leads
        on deals.deal_id = deal_leads.deal_id
        and deal_leads.is_lead_made_from_deal
    left join owner_roles
        on owner_roles.owner_type = 'deal' and deals.deal_id = owner_roles.owner_id
)

select * from contact_leads
union all
select * from leads_made_from_deals
