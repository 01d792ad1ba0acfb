{#- How the leads of each cohort month × channel fare under each qualification rule that
    is on (seed qualification_rules; a rule that is off has no rows). failing_share is
    failing_leads / leads; `unknown` results (an input the rule needs is missing) are
    counted apart and are not failures. Detail rows only: no `all` roll-ups. -#}
with leads as (
    select
        leads.cohort_month,
        leads.channel,
        {%- for rule in qualification_rule_types() %}
        qualified.{{ rule }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref("int_leads_enriched") }} as leads
    inner join {{ ref("int_leads_qualified") }} as qualified
        on leads.lead_id = qualified.lead_id
    where not leads.is_deleted
),

results as (
    {%- for rule in qualification_rule_types() %}
    select cohort_month, channel, '{{ rule }}' as rule, {{ rule }} as result
    from leads
    where {{ rule }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

counted as (
    select
        cohort_month,
        channel,
        rule,
        cast(count(case when result = 'fail' then 1 end) as {{ dbt.type_bigint() }})
            as failing_leads,
        cast(count(case when result = 'unknown' then 1 end) as {{ dbt.type_bigint() }})
            as unknown_leads,
        cast(count(*) as {{ dbt.type_bigint() }}) as leads
    from results
    group by cohort_month, channel, rule
)

select
    cohort_month,
    channel,
    rule,
    failing_leads,
    unknown_leads,
    leads,
    {{ ratio("failing_leads", "leads") }} as failing_share
from counted
