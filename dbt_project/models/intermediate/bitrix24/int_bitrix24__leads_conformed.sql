{#- Bitrix24 leads in the canonical lead shape: every crm.lead, plus a lead made from each
    deal that has none (int_bitrix24__deal_leads), dated, tagged and segmented as that
    deal. UTM tags are Bitrix24's own UTM_* fields; the segment is the user field (UF_*)
    the seed crm_fields names for role `segment`. -#}
with leads as (
    select * from {{ ref("stg_bitrix24__leads") }}
),

deals as (
    select * from {{ ref("stg_bitrix24__deals") }}
),

segment_fields as (
    select upper(trim(field_key)) as field_code
    from {{ ref("crm_fields") }}
    where source = 'bitrix24' and role = 'segment'
),

lead_fields as (
    select lead_id as owner_id, 'lead' as owner_type, unnest(user_fields) as field from leads
    union all
    select deal_id as owner_id, 'deal' as owner_type, unnest(user_fields) as field from deals
),

segments as (
    select
        lead_fields.owner_type,
        lead_fields.owner_id,
        min(lead_fields.field.value) as segment_value
    from lead_fields
    inner join segment_fields
        on upper(trim(lead_fields.field.field_code)) = segment_fields.field_code
    group by lead_fields.owner_type, lead_fields.owner_id
),

crm_leads as (
    select
        {{ dbt.concat(["'bitrix24:'", dbt.cast("leads.lead_id", dbt.type_string())]) }}
            as lead_id,
        'bitrix24' as source,
        {{ dbt.cast("leads.lead_id", dbt.type_string()) }} as source_lead_id,
        leads.date_create as created_at,
        leads.date_modify as updated_at,
        leads.is_deleted,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        leads.utm_content,
        leads.utm_term,
        segments.segment_value
    from leads
    left join segments on segments.owner_type = 'lead' and leads.lead_id = segments.owner_id
),

leads_made_from_deals as (
    select
        deal_leads.lead_id,
        'bitrix24' as source,
        {#- numeric like every source_lead_id (the duplicate rule's tie-breaker) -#}
        {{ dbt.cast("deals.deal_id", dbt.type_string()) }} as source_lead_id,
        deals.date_create as created_at,
        deals.date_modify as updated_at,
        deals.is_deleted,
        deals.utm_source,
        deals.utm_medium,
        deals.utm_campaign,
        deals.utm_content,
        deals.utm_term,
        segments.segment_value
    from deals
    inner join {{ ref("int_bitrix24__deal_leads") }} as deal_leads
        on deals.deal_id = deal_leads.deal_id
        and deal_leads.is_lead_made_from_deal
    left join segments on segments.owner_type = 'deal' and deals.deal_id = segments.owner_id
)

select * from crm_leads
union all
select * from leads_made_from_deals
