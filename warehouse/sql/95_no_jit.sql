-- No JIT compilation in the warehouse database, for every session (publication checks, dbt, GX,
-- loads, BI). Plans over the partitioned facts with joins on a small delta are estimated far above
-- jit_above_cost, and PostgreSQL then spends seconds to minutes compiling hundreds of functions
-- for queries that run in under a second (measured: the incremental summary
-- case_resolution_rates_by_community_month at scale 10, 44.8 s with JIT, 43.8 s of it compiling
-- 481 functions, against 0.8 s without; same rows). dbt's and GX's sessions also set it themselves
-- (warehouse/build.py NO_JIT, expectations/gate.py), so a database restored without this setting
-- keeps the pipeline fast. Idempotent; applied by `warehouse.bootstrap.bootstrap()` as the owner.

do $$
begin
    execute format('alter database %I set jit = off', current_database());
end
$$;
