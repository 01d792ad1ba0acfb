{#- The column never holds one of `values` (e.g. names the models reserve). -#}
{% test not_in_values(model, column_name, values) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} in ('{{ values | join("', '") }}')
{% endtest %}
