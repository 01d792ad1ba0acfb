-- mart_lead_quality agrees with the single leads of mart_leads: per cohort month ×
-- channel × rule the same leads, failing leads and unknown leads.
with lead_results as (
    {%- for rule in qualification_rule_types() %}
    select cohort_month, channel, '{{ rule }}' as rule, {{ rule }} as result
    from {{ ref("mart_leads") }}
    where {{ rule }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

from_leads as (
    select
        cohort_month,
        channel,
        rule,
        count(*) as leads,
        sum(case when result = 'fail' then 1 else 0 end) as failing_leads,
        sum(case when result = 'unknown' then 1 else 0 end) as unknown_leads
    from lead_results
    group by cohort_month, channel, rule
)

select
    coalesce(from_leads.cohort_month, quality.cohort_month) as cohort_month,
    coalesce(from_leads.channel, quality.channel) as channel,
    coalesce(from_leads.rule, quality.rule) as rule
from from_leads
full outer join {{ ref("mart_lead_quality") }} as quality
    on from_leads.cohort_month = quality.cohort_month
    and from_leads.channel = quality.channel
    and from_leads.rule = quality.rule
where from_leads.leads is distinct from quality.leads
    or from_leads.failing_leads is distinct from quality.failing_leads
    or from_leads.unknown_leads is distinct from quality.unknown_leads
