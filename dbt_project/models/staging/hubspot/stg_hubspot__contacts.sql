{{ config(materialized="table") }}

{#- The newest version of every contact (stg_hubspot__contact_versions) with is_deleted:
    archived, merged into another contact (named in a survivor's merged_object_ids), or
    missing from the latest contact id sweep (see macros/swept_deletions.sql). -#}
with swept as (
    {{ swept_deletions(
        ref("stg_hubspot__contact_versions"), "hubspot", "contact_ids", "contact_id"
    ) }}
),

merged_away as (
    select distinct unnest(merged_object_ids) as contact_id
    from {{ ref("stg_hubspot__contact_versions") }}
)

select
    swept.* exclude (is_deleted),
    swept.is_deleted
    or coalesce(swept.archived, false)
    or merged_away.contact_id is not null as is_deleted
from swept
left join merged_away on swept.contact_id = merged_away.contact_id
