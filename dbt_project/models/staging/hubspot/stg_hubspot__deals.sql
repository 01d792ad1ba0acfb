{{ config(materialized="table") }}

{#- The newest version of every deal with is_deleted: archived, or missing from the latest
    deal id sweep (see macros/swept_deletions.sql). -#}
with swept as (
    {{ swept_deletions(ref("stg_hubspot__deal_versions"), "hubspot", "deal_ids", "deal_id") }}
)

select
    swept.* exclude (is_deleted),
    swept.is_deleted or coalesce(swept.archived, false) as is_deleted
from swept
