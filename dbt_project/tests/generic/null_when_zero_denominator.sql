{#- A ratio whose denominator is zero (or missing) is NULL, never 0 or an error
    (METRICS.md: "Ratios whose denominator is zero are NULL"). -#}
{% test null_when_zero_denominator(model, column_name, denominator) %}
select *
from {{ model }}
where coalesce({{ denominator }}, 0) = 0 and {{ column_name }} is not null
{% endtest %}
