{#- One row per lead of every source, deleted ones included (flagged), with the
    dimensions the marts group by: cohort month (reporting time zone), segment, channel. -#}
{#- A table, not a view: the qualification, the outcomes, every mart, the cost allocations
    and about fifteen quality-gate checks read it, and as a view each of them would run
    the whole lead pipeline (conforming, channel matching, phones) again. -#}
{{ config(materialized="table") }}
with leads as (
    select * from {{ ref("int_leads_conformed") }}
),

segment_rules as (
    select source, lower(trim(field_value)) as field_value, segment
    from {{ ref("segment_rules") }}
)

select
    leads.lead_id,
    leads.source,
    leads.source_lead_id,
    leads.created_at,
    cast(
        {{ dbt.date_trunc("month", to_reporting_time_zone("leads.created_at")) }} as date
    ) as cohort_month,
    coalesce(segment_rules.segment, 'unknown') as segment,
    channels.channel,
    channels.platform,
    channels.campaign_id,
    channels.channel_match,
    leads.utm_source,
    leads.utm_medium,
    leads.utm_campaign,
    leads.utm_content,
    leads.utm_term,
    phones.phone_valid,
    phones.phone_invalid_reason,
    leads.is_deleted
from leads
left join segment_rules
    on leads.source = segment_rules.source
    and lower(trim(leads.segment_value)) = segment_rules.field_value
inner join {{ ref("int_leads_channel_matched") }} as channels
    on leads.lead_id = channels.lead_id
inner join {{ ref("int_lead_phones_summarized") }} as phones
    on leads.lead_id = phones.lead_id
