{#- One row per grain: no two rows share the same values of `columns`.
    A NULL in a grain column counts as a value (grains here never hold NULLs; not_null
    tests say so where it matters). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(", ") }}, count(*) as rows_per_grain
from {{ model }}
group by {{ columns | join(", ") }}
having count(*) > 1
{% endtest %}
