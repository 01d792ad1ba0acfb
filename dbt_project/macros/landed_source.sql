{#- Reading the raw landing files of one source table.

    The source's `external_location` (see _<source>__sources.yml) is the glob of its
    Parquet files. A source that was never extracted (disabled, or not run yet) has no
    files: rather than failing on a missing folder, it reads as an empty relation typed by
    the source's declared columns, and the run log says so. -#}

{% macro landed_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if relation.external is not defined or relation.external is none -%}
        {#- unit-test fixtures replace the source with rows of their own -#}
        {{- return(relation) -}}
    {%- endif -%}
    {%- if execute and not _landed_files_exist(relation.external) -%}
        {{- log(
            "WARNING: no raw files match " ~ relation.external ~ " (source " ~ source_name
            ~ "." ~ table_name ~ "); it reads as empty. Is the source enabled and extracted?",
            info=true
        ) -}}
        {{- return("(" ~ _empty_source_select(source_name, table_name) ~ ")") -}}
    {%- endif -%}
    {{- return("read_parquet(" ~ relation.external ~ ", union_by_name = true)") -}}
{%- endmacro %}


{% macro _landed_files_exist(files_glob) -%}
    {%- set found = run_query("select count(*) from glob(" ~ files_glob ~ ")") -%}
    {{- return(found.columns[0].values()[0] > 0) -}}
{%- endmacro %}


{% macro _empty_source_select(source_name, table_name) -%}
    {%- set node = graph.sources.values()
        | selectattr("source_name", "equalto", source_name)
        | selectattr("name", "equalto", table_name)
        | first -%}
    {%- set typed_nulls = [] -%}
    {%- for column in node.columns.values() -%}
        {%- if not column.data_type -%}
            {{- exceptions.raise_compiler_error(
                "Source " ~ source_name ~ "." ~ table_name ~ ": column " ~ column.name
                ~ " declares no data_type, so its empty stand-in cannot be typed"
            ) -}}
        {%- endif -%}
        {%- do typed_nulls.append("cast(null as " ~ column.data_type ~ ") as " ~ column.name) -%}
    {%- endfor -%}
    {{- return("select " ~ typed_nulls | join(", ") ~ " where 1 = 0") -}}
{%- endmacro %}
