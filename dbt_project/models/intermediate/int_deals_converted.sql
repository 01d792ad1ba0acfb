{#- Deals with their amount in the reporting currency, at the rate of the amount's own
    date in the reporting time zone: a closed deal's close date, an open deal's lead
    creation date. A deal is treated as deleted when it or its lead is. A lost deal's
    canonical drop-off reason comes from the seed loss_reason_mapping; a CRM reason the
    seed lacks passes through under its own name; none is `no_reason_given`. -#}
with deals as (
    select * from {{ ref("int_deals_conformed") }}
),

leads as (
    select lead_id, created_at, is_deleted from {{ ref("int_leads_conformed") }}
),

dated_deals as (
    select
        deals.*,
        leads.created_at as lead_created_at,
        loss_reasons.reason as mapped_loss_reason,
        deals.is_deleted or coalesce(leads.is_deleted, false) as is_removed,
        cast(
            {{ to_reporting_time_zone("coalesce(deals.closed_at, leads.created_at)") }} as date
        ) as amount_date
    from deals
    left join leads on deals.lead_id = leads.lead_id
    left join {{ ref("loss_reason_mapping") }} as loss_reasons
        on deals.source = loss_reasons.source
        and lower(trim(deals.loss_reason)) = lower(trim(loss_reasons.crm_reason))
)

select
    deal_id,
    lead_id,
    source,
    pipeline_id,
    status_id,
    status,
    amount,
    currency,
    amount_date,
    {{ convert_to_reporting_currency(
        "dated_deals.amount", "dated_deals.currency", "dated_deals.amount_date"
    ) }}
        as amount_reporting,
    created_at,
    closed_at,
    lead_created_at,
    case
        when status = 'won'
            then {{ seconds_between("lead_created_at", "closed_at") }} / 86400
    end as days_to_won,
    loss_reason,
    case
        when status = 'lost' then coalesce(
            mapped_loss_reason, nullif(trim(loss_reason), ''), 'no_reason_given'
        )
    end as dropoff_reason,
    is_removed as is_deleted
from dated_deals
