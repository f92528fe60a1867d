-- The PII gate (warehouse/checks.py::pii_scan): finds resident ID numbers (with a valid
-- GB 11643 check digit and birth date), mobile phone numbers and bank card numbers (Luhn)
-- in free text, so a candidate mart carrying "联系人张三 13812345678 身份证…" is blocked.
-- Runs of digits inside longer codes or hex keys do not count: matches must stand alone.

create or replace function pii.id_check_ok(id_number text) returns boolean
language sql immutable parallel safe set search_path = pg_catalog as $$
    select substr('10X98765432', (sum(substr(id_number, i, 1)::int
                  * (array[7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])[i]) % 11)::int + 1, 1)
           = upper(substr(id_number, 18, 1))
    from generate_series(1, 17) as i
$$;

create or replace function pii.luhn_ok(digits text) returns boolean
language sql immutable parallel safe set search_path = pg_catalog as $$
    select sum(case when (length(digits) - i) % 2 = 1 then (d * 2) / 10 + (d * 2) % 10 else d end) % 10 = 0
    from (select i, substr(digits, i, 1)::int as d from generate_series(1, length(digits)) as i) as positions
$$;

-- An 18-digit run that is a valid 统一社会信用代码 (GB 32100) names an organisation, not a card.
create or replace function pii.uscc_ok(code text) returns boolean
language sql immutable parallel safe set search_path = pg_catalog as $$
    select length(code) = 18 and substr('0123456789ABCDEFGHJKLMNPQRTUWXY', (31 - sum(
               (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, i, 1)) - 1)
               * (array[1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])[i]) % 31)::int % 31 + 1, 1)
           = substr(code, 18, 1)
    from generate_series(1, 17) as i
$$;

-- The kind of personal information found in a text (id_number | mobile_phone | bank_card), or null.
-- `organisation_code`: the column holds 统一社会信用代码 by contract (dbt column meta
-- `code_type: uscc`, read by pii_scan). There an 18-character run is that code, even one
-- whose check character is wrong but which passes Luhn by chance, not a bank card; ID
-- numbers, mobile phones and cards of other lengths are still found.
create or replace function pii.find_pii(value text, organisation_code boolean) returns text
language plpgsql immutable parallel safe set search_path = pg_catalog as $$
declare
    found text[];
begin
    if value is null or value ~ '^[0-9a-f]{64}$' then
        return null;  -- a person key (HMAC), not a clear value
    end if;
    for found in select regexp_matches(value,
            '(?<![0-9A-Za-z])([1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx])(?![0-9A-Za-z])',
            'g') loop
        if pii.id_check_ok(found[1]) then
            return 'id_number';
        end if;
    end loop;
    if value ~ '(?<![0-9A-Za-z])1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}(?![0-9A-Za-z])' then
        return 'mobile_phone';
    end if;
    for found in select regexp_matches(value, '(?<![0-9A-Za-z])([0-9]{16,19})(?![0-9A-Za-z])', 'g') loop
        if pii.luhn_ok(found[1]) and not pii.uscc_ok(found[1])
                and not (organisation_code and length(found[1]) = 18) then
            return 'bank_card';
        end if;
    end loop;
    return null;
end $$;

create or replace function pii.find_pii(value text) returns text
language sql immutable parallel safe set search_path = pg_catalog as $$
    select pii.find_pii(value, false)
$$;

revoke all on function pii.id_check_ok(text), pii.luhn_ok(text), pii.uscc_ok(text), pii.find_pii(text),
    pii.find_pii(text, boolean) from public;
grant execute on function pii.id_check_ok(text), pii.luhn_ok(text), pii.uscc_ok(text), pii.find_pii(text),
    pii.find_pii(text, boolean) to gov_transform;
