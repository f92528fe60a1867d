{#- Personal information (个人信息) never leaves staging in clear. These macros turn a
    clear value into a stable keyed person key (HMAC-SHA256 keyed with the secret
    PII_HMAC_KEY) or a masked display value.

    The key never appears in SQL: pii.person_key() (warehouse/sql/10_least_privilege.sql)
    computes HMAC(K, m) = H((K ⊕ opad) || H((K ⊕ ipad) || m)) with the built-in sha256()
    (no pgcrypto: the embedded server does not ship it), reading the padded keys from
    session settings that warehouse.build gives dbt's connections as startup options.
    Compiled SQL, dbt's artifacts and logs therefore hold only the function call. -#}

{% macro person_key(expression) -%}
    pii.person_key({{ expression }})
{%- endmacro %}


{#- 张三明 → 张*明, 张三 → 张*, 欧阳小明 → 欧**明 -#}
{% macro mask_name(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is null then null
        when char_length(trim({{ expression }})) = 1 then '*'
        when char_length(trim({{ expression }})) = 2 then left(trim({{ expression }}), 1) || '*'
        else left(trim({{ expression }}), 1)
            || repeat('*', char_length(trim({{ expression }})) - 2)
            || right(trim({{ expression }}), 1)
    end
{%- endmacro %}


{#- 13812345678 → *******5678: the last 4 digits at most (first digits narrow down the
    carrier and region, enough with a name mask to re-identify); shorter than 8 characters
    is fully masked -#}
{% macro mask_phone(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is null then null
        when char_length(trim({{ expression }})) < 8 then repeat('*', char_length(trim({{ expression }})))
        else repeat('*', char_length(trim({{ expression }})) - 4)
            || right(trim({{ expression }}), 4)
    end
{%- endmacro %}
