select
    phone_raw,
    e164,
    is_valid,
    invalid_reason,
    default_region,
    validated_at
from {{ source("enriched", "phone_numbers") }}
