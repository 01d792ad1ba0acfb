{#- One phone verdict per lead: valid when any of its phones is valid. Otherwise the
    reason of its most nearly valid phone (invalid_number, then unparseable, then
    no_phone); a lead without any phone string is `no_phone`. Unvalidated phones
    (not yet in enriched.phone_numbers) leave both columns NULL unless another phone
    decides. -#}
with verdicts as (
    select
        lead_id,
        max(case when is_valid then 1 else 0 end) as has_valid_phone,
        max(case when is_valid is null then 1 else 0 end) as has_unvalidated_phone,
        min(
            case invalid_reason
                when 'invalid_number' then 1
                when 'unparseable' then 2
                when 'no_phone' then 3
            end
        ) as nearest_reason_rank
    from {{ ref("int_lead_phones_validated") }}
    group by lead_id
)

select
    leads.lead_id,
    case
        when verdicts.has_valid_phone = 1 then true
        when verdicts.has_unvalidated_phone = 1 then null
        else false
    end as phone_valid,
    case
        when verdicts.has_valid_phone = 1 or verdicts.has_unvalidated_phone = 1 then null
        when verdicts.nearest_reason_rank = 1 then 'invalid_number'
        when verdicts.nearest_reason_rank = 2 then 'unparseable'
        else 'no_phone'
    end as phone_invalid_reason
from {{ ref("int_leads_conformed") }} as leads
left join verdicts on leads.lead_id = verdicts.lead_id
