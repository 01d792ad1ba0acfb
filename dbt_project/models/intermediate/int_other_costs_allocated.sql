{#- Each row of the seed other_costs spread over segment × channel in proportion to the
    non-deleted leads of its month within its scope (the channel and/or segment it names,
    all leads when blank), exactly: the parts add up to the row's amount to the micro-unit
    (see allocate_proportionally). A cost with no lead in scope goes to segment `no_leads`
    under the channel it names, else `unattributed`. Amounts are in the reporting
    currency. -#}
with costs as (
    select
        {{ dbt.concat([dbt.cast("month", dbt.type_string()), "'|'",
            "coalesce(channel, '')", "'|'", "coalesce(segment, '')", "'|'",
            "coalesce(cost_item, '')"]) }} as cost_key,
        cast({{ dbt.date_trunc("month", "month") }} as date) as cost_month,
        nullif(trim(channel), '') as scope_channel,
        nullif(trim(segment), '') as scope_segment,
        cast(amount as {{ type_money() }}) as amount
    from {{ ref("other_costs") }}
),

cell_leads as (
    select cohort_month, segment, channel, count(*) as leads
    from {{ ref("int_leads_enriched") }}
    where not is_deleted
    group by 1, 2, 3
),

scoped_cells as (
    select
        costs.cost_key,
        costs.cost_month,
        costs.amount,
        cell_leads.segment,
        cell_leads.channel,
        cell_leads.leads
    from costs
    inner join cell_leads
        on costs.cost_month = cell_leads.cohort_month
        and (costs.scope_channel is null or costs.scope_channel = cell_leads.channel)
        and (costs.scope_segment is null or costs.scope_segment = cell_leads.segment)
),

allocated as (
    {{ allocate_proportionally(
        "scoped_cells",
        group_by=["cost_key"],
        amount="amount",
        weight="leads",
        tie_breakers=["segment", "channel"],
    ) }}
)

select
    cost_key,
    cost_month as cohort_month,
    segment,
    channel,
    allocated as other_costs
from allocated

union all

select
    costs.cost_key,
    costs.cost_month as cohort_month,
    'no_leads' as segment,
    coalesce(costs.scope_channel, 'unattributed') as channel,
    costs.amount as other_costs
from costs
where not exists (select 1 from scoped_cells where scoped_cells.cost_key = costs.cost_key)
