{#- HubSpot leads in the canonical lead shape: every contact (created = lead created), plus
    a lead made from each deal without a contact (int_hubspot__deal_leads). The seed
    crm_fields names the landed property of each role:
    - `hubspot_source`, `hubspot_source_drill_down_1`, `_2`: HubSpot's own source and its
      two drill-downs (by default the original source, hs_analytics_source*), which every
      portal fills. What each drill-down holds depends on the source (HubSpot's knowledge
      base, "Understand Original and Latest source properties"), so `drill_down_tags` below
      reads them into UTM tags; utm_medium is the source itself, lower-cased
      (`paid_search`, `organic_search`, …), for the seed nonpaid_channels to map.
    - `utm_source` … `utm_term`: custom properties a form fills from the link's tags; a
      tag such a property holds wins over the one read from the drill-downs.
    - `segment`: the customer segment (by default the buyer persona). -#}
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

{#- Which drill-down (1 or 2) holds which tag, per HubSpot source. Organic search: the
    search term, then the search engine's site; referrals: the referring domain, then the
    URL; social (organic or paid): the network, then utm_campaign; email: utm_campaign,
    then the HubSpot email's name; paid search: utm_campaign, then the search term; other
    campaigns: utm_campaign. Direct traffic and offline sources name no campaign. -#}
drill_down_tags (hubspot_source, source_from, campaign_from, term_from) as (
    values
        ('PAID_SEARCH', null, 1, 2),
        ('PAID_SOCIAL', 1, 2, null),
        ('SOCIAL_MEDIA', 1, 2, null),
        ('EMAIL_MARKETING', null, 1, null),
        ('OTHER_CAMPAIGNS', null, 1, null),
        ('ORGANIC_SEARCH', 2, null, 1),
        ('REFERRALS', 1, null, null)
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
        min(case when role = 'hubspot_source' then upper(trim(property.value)) end)
            as hubspot_source,
        min(case when role = 'hubspot_source_drill_down_1' then property.value end)
            as drill_down_1,
        min(case when role = 'hubspot_source_drill_down_2' then property.value end)
            as drill_down_2,
        min(case when role = 'segment' then property.value end) as segment_value
    from owner_properties
    inner join field_roles
        on lower(trim(owner_properties.property.name)) = field_roles.property_name
    group by owner_properties.owner_type, owner_properties.owner_id
),

owner_tags as (
    select
        owner_roles.owner_type,
        owner_roles.owner_id,
        coalesce(
            owner_roles.utm_source,
            case drill_down_tags.source_from
                when 1 then owner_roles.drill_down_1
                when 2 then owner_roles.drill_down_2
            end
        ) as utm_source,
        coalesce(owner_roles.utm_medium, lower(owner_roles.hubspot_source)) as utm_medium,
        coalesce(
            owner_roles.utm_campaign,
            case drill_down_tags.campaign_from
                when 1 then owner_roles.drill_down_1
                when 2 then owner_roles.drill_down_2
            end
        ) as utm_campaign,
        owner_roles.utm_content,
        coalesce(
            owner_roles.utm_term,
            case drill_down_tags.term_from
                when 1 then owner_roles.drill_down_1
                when 2 then owner_roles.drill_down_2
            end
        ) as utm_term,
        owner_roles.segment_value
    from owner_roles
    left join drill_down_tags on owner_roles.hubspot_source = drill_down_tags.hubspot_source
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
        owner_tags.utm_source,
        owner_tags.utm_medium,
        owner_tags.utm_campaign,
        owner_tags.utm_content,
        owner_tags.utm_term,
        owner_tags.segment_value
    from contacts
    left join owner_tags
        on owner_tags.owner_type = 'contact' and contacts.contact_id = owner_tags.owner_id
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
        owner_tags.utm_source,
        owner_tags.utm_medium,
        owner_tags.utm_campaign,
        owner_tags.utm_content,
        owner_tags.utm_term,
        owner_tags.segment_value
    from deals
    inner join {{ ref("int_hubspot__deal_leads") }} as deal_leads
        on deals.deal_id = deal_leads.deal_id
        and deal_leads.is_lead_made_from_deal
    left join owner_tags
        on owner_tags.owner_type = 'deal' and deals.deal_id = owner_tags.owner_id
)

select * from contact_leads
union all
select * from leads_made_from_deals
