{#- amoCRM leads in the canonical lead shape. The seed crm_fields says which custom field
    holds each UTM tag and the segment: a field matches its field_key by code first, then
    by name, then by id; when several fields of one lead match a role, the best match
    (then the lowest field id) wins. -#}
with leads as (
    select * from {{ ref("stg_amocrm__leads") }}
),

field_roles as (
    select field_key, role
    from {{ ref("crm_fields") }}
    where source = 'amocrm'
),

field_matches as (
    select
        lead_fields.lead_id,
        field_roles.role,
        lead_fields.field_value,
        row_number() over (
            partition by lead_fields.lead_id, field_roles.role
            order by
                case
                    when upper(trim(lead_fields.field_code)) = upper(trim(field_roles.field_key))
                        then 1
                    when lower(trim(lead_fields.field_name)) = lower(trim(field_roles.field_key))
                        then 2
                    else 3
                end,
                lead_fields.field_id
        ) as match_rank
    from {{ ref("stg_amocrm__lead_custom_fields") }} as lead_fields
    inner join field_roles
        on upper(trim(lead_fields.field_code)) = upper(trim(field_roles.field_key))
        or lower(trim(lead_fields.field_name)) = lower(trim(field_roles.field_key))
        or {{ dbt.cast("lead_fields.field_id", dbt.type_string()) }} = trim(field_roles.field_key)
),

lead_roles as (
    select
        lead_id,
        max(case when role = 'utm_source' then field_value end) as utm_source,
        max(case when role = 'utm_medium' then field_value end) as utm_medium,
        max(case when role = 'utm_campaign' then field_value end) as utm_campaign,
        max(case when role = 'utm_content' then field_value end) as utm_content,
        max(case when role = 'utm_term' then field_value end) as utm_term,
        max(case when role = 'segment' then field_value end) as segment_value
    from field_matches
    where match_rank = 1
    group by lead_id
)

select
    {{ dbt.concat(["'amocrm:'", dbt.cast("leads.lead_id", dbt.type_string())]) }} as lead_id,
    'amocrm' as source,
    {{ dbt.cast("leads.lead_id", dbt.type_string()) }} as source_lead_id,
    leads.created_at,
    leads.updated_at,
    coalesce(leads.is_deleted, false) as is_deleted,
    lead_roles.utm_source,
    lead_roles.utm_medium,
    lead_roles.utm_campaign,
    lead_roles.utm_content,
    lead_roles.utm_term,
    lead_roles.segment_value
from leads
left join lead_roles on leads.lead_id = lead_roles.lead_id
