{{ config(materialized="table") }}

{#- The newest version of every lead (stg_amocrm__lead_versions), marked deleted also when
    the latest id sweep does not list it although that version landed before the sweep
    began: a deletion the update-time windows cannot see (the trash emptied, or a deletion
    that kept updated_at). A version landed after the sweep began is not judged by it: the
    lead may have been created or restored since. Without any sweep, nothing changes. -#}
with versions as (
    select * from {{ ref("stg_amocrm__lead_versions") }}
),

sweeps as (
    select lead_id, _extracted_at as swept_at
    from {{ landed_source("amocrm", "lead_ids") }}
),

latest_sweep as (
    select max(swept_at) as swept_at from sweeps
),

listed as (
    select distinct sweeps.lead_id
    from sweeps
    inner join latest_sweep on sweeps.swept_at = latest_sweep.swept_at
)

select
    versions.* replace (
        case
            when versions._extracted_at < latest_sweep.swept_at and listed.lead_id is null
                then true
            else versions.is_deleted
        end as is_deleted
    )
from versions
cross join latest_sweep
left join listed on versions.lead_id = listed.lead_id
