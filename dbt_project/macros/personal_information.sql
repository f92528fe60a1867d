{#- Personal information (个人信息) never leaves staging in clear. These macros turn a
    clear value into a stable keyed person key (HMAC-SHA256 keyed with the secret
    PII_HMAC_KEY) or a masked display value.

    HMAC is computed with PostgreSQL's built-in sha256() (no pgcrypto: the embedded
    server does not ship it): HMAC(K, m) = H((K ⊕ opad) || H((K ⊕ ipad) || m)). The two
    padded keys are derived from the secret by warehouse.build.dbt_env and passed in as
    PII_HMAC_IPAD / PII_HMAC_OPAD (hex); they are as secret as the key itself, and they
    are rendered into the compiled SQL, so a model that calls person_key() must be
    materialized as a table, never a view: a view's definition (pg_views) would show them. -#}

{% macro person_key(expression) -%}
    case
        when nullif(upper(trim({{ expression }})), '') is not null
            then encode(
                sha256(
                    decode('{{ env_var("PII_HMAC_OPAD") }}', 'hex')
                    || sha256(
                        decode('{{ env_var("PII_HMAC_IPAD") }}', 'hex')
                        || convert_to(upper(trim({{ expression }})), 'UTF8')
                    )
                ),
                'hex'
            )
    end
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


{#- 13812345678 → 138****5678; anything shorter than 8 characters is fully masked -#}
{% macro mask_phone(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is null then null
        when char_length(trim({{ expression }})) < 8 then repeat('*', char_length(trim({{ expression }})))
        else left(trim({{ expression }}), 3)
            || repeat('*', char_length(trim({{ expression }})) - 7)
            || right(trim({{ expression }}), 4)
    end
{%- endmacro %}
