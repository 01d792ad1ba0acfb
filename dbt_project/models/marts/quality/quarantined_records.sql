{{ config(schema="quality", materialized="table") }}

{#- Every record an extractor quarantined, with its source, reason and raw payload:
    nothing that could not be staged is lost. One row per record per run, so a record
    that stays broken at the source shows in every nightly run that re-reads it. The
    payloads may hold personal data: this table stays in the warehouse and is never
    published; mart_data_quality publishes the counts (check quarantined_records). -#}
select
    _source as source,
    entity,
    record_id,
    reason,
    _payload as payload,
    _run_id as run_id,
    _extracted_at as extracted_at
from {{ landed_source("quarantine", "records") }}
