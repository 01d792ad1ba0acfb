{#- Every lead judged by the qualification rules of the seed qualification_rules
    (METRICS.md, Lead qualification). Each rule type is implemented once below; the seed
    turns rules on and off and sets their parameters and priority (1 = highest). A rule's
    column is `pass`, `fail` or `unknown`, NULL when the rule is off. A lead is a target
    lead when it passes every rule that is on. -#}
{#- A table, not a view: every mart and the quality gate read it, so it is computed once
    a run. -#}
{{ config(materialized="table") }}
with leads as (
    select * from {{ ref("int_leads_enriched") }}
),

rules as (
    select rule, priority, params
    from {{ ref("qualification_rules") }}
    where enabled
),

rule_params as (
    select
        max(case when rule = 'focus_segment' then {{ json_text("params", "segments") }} end)
            as focus_segments,
        max(
            case
                when rule = 'min_order_value'
                    then cast({{ json_text("params", "threshold") }} as {{ type_money() }})
            end
        ) as min_order_value,
        max(
            case
                when rule = 'not_duplicate'
                    then cast({{ json_text("params", "window_days") }} as {{ type_double() }})
            end
        ) as duplicate_window_days
    from rules
),

largest_deals as (
    select lead_id, max(amount_reporting) as largest_amount
    from {{ ref("int_deals_converted") }}
    where not is_deleted
    group by lead_id
),

valid_phones as (
    select distinct phones.lead_id, phones.e164, leads.source, leads.created_at, leads.is_deleted,
        {{ dbt.safe_cast("leads.source_lead_id", api.Column.translate_type("bigint")) }}
            as source_number
    from {{ ref("int_lead_phones_validated") }} as phones
    inner join leads on phones.lead_id = leads.lead_id
    where phones.is_valid
),

{#- A later lead sharing a valid phone (E.164) with an earlier non-deleted lead created at
    most the window before it; on equal creation times the smaller source name, then the
    smaller numeric id, is the earlier one. -#}
duplicates as (
    select distinct later.lead_id
    from valid_phones as later
    inner join valid_phones as earlier
        on later.e164 = earlier.e164
        and later.lead_id <> earlier.lead_id
    cross join rule_params
    where not earlier.is_deleted
        and (
            earlier.created_at < later.created_at
            or (
                earlier.created_at = later.created_at
                and (
                    earlier.source < later.source
                    or (earlier.source = later.source and earlier.source_number < later.source_number)
                )
            )
        )
        and {{ seconds_between("earlier.created_at", "later.created_at") }}
            <= coalesce(rule_params.duplicate_window_days, 30) * 86400
),

rule_results as (
    select
        leads.lead_id,
        case
            when leads.phone_valid then 'pass'
            when not leads.phone_valid then 'fail'
            else 'unknown'
        end as valid_phone,
        case
            {# Spaces and case are ignored on both sides, so "dealer, Private buyer" lists
               the segment `private buyer`. #}
            when {{ dbt.position(
                dbt.concat(["','", "replace(lower(leads.segment), ' ', '')", "','"]),
                dbt.concat(["','", "replace(lower(rule_params.focus_segments), ' ', '')", "','"]),
            ) }} > 0 then 'pass'
            else 'fail'
        end as focus_segment,
        case
            when coalesce(largest_deals.largest_amount, 0) = 0 then 'unknown'
            when largest_deals.largest_amount >= rule_params.min_order_value then 'pass'
            else 'fail'
        end as min_order_value,
        case when duplicates.lead_id is null then 'pass' else 'fail' end as not_duplicate
    from leads
    cross join rule_params
    left join largest_deals on leads.lead_id = largest_deals.lead_id
    left join duplicates on leads.lead_id = duplicates.lead_id
),

{%- set rule_types = qualification_rule_types() %}

results_by_rule as (
    {%- for rule_type in rule_types %}
    select rule_results.lead_id, rules.rule, rules.priority, rule_results.{{ rule_type }} as result
    from rule_results
    inner join rules on rules.rule = '{{ rule_type }}'
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{#- The primary failed rule: failed rules before unknown ones, then by priority. -#}
primary_failures as (
    select
        lead_id,
        rule as primary_failed_rule,
        row_number() over (
            partition by lead_id
            order by case when result = 'fail' then 0 else 1 end, priority, rule
        ) as failure_rank
    from results_by_rule
    where result <> 'pass'
)

select
    rule_results.lead_id,
    {%- for rule_type in rule_types %}
    case
        when exists (select 1 from rules where rules.rule = '{{ rule_type }}')
            then rule_results.{{ rule_type }}
    end as {{ rule_type }},
    {%- endfor %}
    primary_failures.primary_failed_rule is null as is_target,
    primary_failures.primary_failed_rule
from rule_results
left join primary_failures
    on rule_results.lead_id = primary_failures.lead_id
    and primary_failures.failure_rank = 1
