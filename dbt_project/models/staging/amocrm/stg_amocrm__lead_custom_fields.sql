{#- The custom field values of each staged lead, one row per field (the landed list
    unnested). A multi-value field keeps its first value. -#}
with fields as (
    select lead_id, unnest(custom_fields) as field
    from {{ ref("stg_amocrm__leads") }}
)

select
    lead_id,
    field.field_id as field_id,
    field.field_code as field_code,
    field.field_name as field_name,
    field."values"[1] as field_value
from fields
