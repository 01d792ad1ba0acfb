{{ config(materialized="table") }}

{#- The newest version of every lead (stg_amocrm__lead_versions), marked deleted also when
    the latest id sweep does not list it (see macros/swept_deletions.sql). -#}
{{ swept_deletions(ref("stg_amocrm__lead_versions"), "amocrm", "lead_ids", "lead_id", "is_deleted") }}
