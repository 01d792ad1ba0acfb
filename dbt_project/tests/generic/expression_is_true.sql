{#- Every row satisfies `expression`, a boolean SQL expression over the model's columns
    (declared on the model or on a column, whose name it does not need); returns the rows
    where it is false. NULL counts as satisfied: not_null tests say where a value must
    exist. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
