{#- One row per non-deleted lead, for "show me those 312 leads" (METRICS.md, mart_leads):
    its dimensions, phone verdict, rule results and outcome. No personal data: no phone,
    name or e-mail, only the verdicts about them. -#}
select
    leads.lead_id,
    leads.cohort_month,
    leads.created_at,
    leads.source,
    leads.channel,
    leads.campaign_id,
    leads.segment,
    leads.phone_valid,
    leads.phone_invalid_reason,
    {%- for rule in qualification_rule_types() %}
    qualified.{{ rule }},
    {%- endfor %}
    qualified.is_target,
    qualified.primary_failed_rule,
    outcomes.furthest_stage,
    outcomes.status,
    outcomes.dropoff_stage,
    outcomes.dropoff_reason as reason,
    outcomes.revenue,
    outcomes.days_to_won,
    outcomes.hours_to_first_stage_change
from {{ ref("int_leads_enriched") }} as leads
inner join {{ ref("int_leads_qualified") }} as qualified
    on leads.lead_id = qualified.lead_id
inner join {{ ref("int_leads_outcomes") }} as outcomes
    on leads.lead_id = outcomes.lead_id
where not leads.is_deleted
