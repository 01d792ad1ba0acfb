{#- Exact money.

    Every amount is a decimal of a fixed scale (type_money(): 6 places, the micro-units
    Yandex reports in). Sums of decimals are exact, so they do not depend on the order in
    which rows are added: a rebuild over the same data gives byte-identical marts, which
    floating point sums do not. Divisions of money (currency conversion, allocation, money
    per lead) are done on integers of micro-units and rounded once, on each row. -#}

{% macro type_money() -%}
    decimal(38, 6)
{%- endmacro %}


{#- Exchange rates per unit (rate / nominal) and margin rates: 12 places keep a rate quoted
    per 10,000 units with 4 decimals exact. -#}
{% macro type_rate() -%}
    decimal(38, 12)
{%- endmacro %}


{#- `value` × 10^scale as an exact integer (type_wide_integer()); digits beyond `scale`
    are rounded. -#}
{% macro to_scaled_integer(value, scale) -%}
    cast(cast({{ value }} as decimal(38, {{ scale }})) * 1{{ "0" * scale }} as {{ type_wide_integer() }})
{%- endmacro %}


{#- The inverse of to_scaled_integer: an integer count of 10^-scale units as a decimal. -#}
{% macro from_scaled_integer(scaled_integer, scale) -%}
    cast(
        cast({{ scaled_integer }} as decimal(38, 0)) * 0.{{ "0" * (scale - 1) }}1
        as decimal(38, {{ scale }})
    )
{%- endmacro %}


{#- numerator / denominator rounded to the nearest integer, halves away from zero, for
    type_wide_integer() operands and a positive denominator. -#}
{% macro divide_rounded(numerator, denominator) -%}
    (sign({{ numerator }}) * {{ integer_divide(
        "2 * abs(" ~ numerator ~ ") + (" ~ denominator ~ ")", "2 * (" ~ denominator ~ ")"
    ) }})
{%- endmacro %}


{#- Money per unit (CPL, average check, CAC): amount / count rounded to the micro-unit;
    NULL when the count is zero. -#}
{% macro divide_money(amount, count) -%}
    {{ from_scaled_integer(
        divide_rounded(to_scaled_integer(amount, 6), "nullif(" ~ count ~ ", 0)"), 6
    ) }}
{%- endmacro %}


{#- A ratio as a float from exact operands; NULL when the denominator is zero. The cast
    keeps Postgres from dividing integers as integers. -#}
{% macro ratio(numerator, denominator) -%}
    ({{ dbt.cast(numerator, type_double()) }} / nullif({{ denominator }}, 0))
{%- endmacro %}


{#- Splits `amount` over the rows of each group in proportion to `weight` (a positive
    integer such as a lead count), to the micro-unit, so that the parts of a group add up
    to its amount exactly (largest remainder method): each row gets its share rounded
    toward zero, and the micro-units left over go one each to the rows with the largest
    remainders, ties broken by `tie_breakers`. `amount` must be the same on every row of a
    group. Returns the relation's columns, the working columns of the method and
    `allocated` (type_money()); callers select what they need. -#}
{% macro allocate_proportionally(relation, group_by, amount, weight, tie_breakers) -%}
    {%- set group = group_by | join(", ") -%}
    {%- set share = "amount_units * " ~ weight -%}
with weighted as (
    select
        *,
        {{ to_scaled_integer("abs(" ~ amount ~ ")", 6) }} as amount_units,
        sum({{ weight }}) over (partition by {{ group }}) as group_weight
    from {{ relation }}
),

rounded_down as (
    select
        *,
        {{ integer_divide(share, "group_weight") }} as floor_units,
        {{ share }} - {{ integer_divide(share, "group_weight") }} * group_weight as remainder
    from weighted
),

ranked as (
    select
        *,
        amount_units - sum(floor_units) over (partition by {{ group }}) as leftover_units,
        row_number() over (
            partition by {{ group }} order by remainder desc, {{ tie_breakers | join(", ") }}
        ) as remainder_rank
    from rounded_down
)

select
    *,
    cast(
        sign({{ amount }}) * {{ from_scaled_integer(
            "floor_units + case when remainder_rank <= leftover_units then 1 else 0 end", 6
        ) }}
        as {{ type_money() }}
    ) as allocated
from ranked
{%- endmacro %}
