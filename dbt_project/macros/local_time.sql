{#- Feeds store instants as timestamptz (UTC); calendar fields (month, date) are taken
    in the warehouse's local time zone, var('local_timezone'). -#}
{% macro local_date(expression) -%}
    ({{ expression }} at time zone '{{ var("local_timezone") }}')::date
{%- endmacro %}


{% macro local_month(expression) -%}
    date_trunc('month', {{ expression }} at time zone '{{ var("local_timezone") }}')::date
{%- endmacro %}


{#- Hours between two instants, 2 decimals; null when either is null. -#}
{% macro hours_between(start_at, end_at) -%}
    round((extract(epoch from ({{ end_at }} - {{ start_at }})) / 3600.0)::numeric, 2)
{%- endmacro %}


{#- Working days (Monday–Friday) after start_date up to and including end_date;
    public holidays are not modelled. -#}
{% macro working_days_between(start_date, end_date) -%}
    (
        select count(*)::integer
        from generate_series(({{ start_date }}) + 1, ({{ end_date }}), interval '1 day') as calendar_day
        where extract(isodow from calendar_day) < 6
    )
{%- endmacro %}
