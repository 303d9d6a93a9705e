CREATE TABLE "scope_usage" (
	"scope" text PRIMARY KEY NOT NULL,
	"accounts" integer NOT NULL
);
--> statement-breakpoint
-- scope_usage counts, per scope, the service accounts holding it; statement-level triggers on service_accounts
-- keep it (a bulk insert or delete costs one aggregate, not one trigger call per row). Counts change in
-- scope order, so two transactions touching the same scopes take their row locks in the same order and
-- cannot deadlock on them. A count that reaches 0 takes its row with it.
CREATE FUNCTION scope_usage_apply(changed text[], deltas integer[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. coalesce(array_length(changed, 1), 0) LOOP
    INSERT INTO scope_usage AS u (scope, accounts) VALUES (changed[i], deltas[i])
      ON CONFLICT (scope) DO UPDATE SET accounts = u.accounts + excluded.accounts;
  END LOOP;
  DELETE FROM scope_usage WHERE scope = ANY (changed) AND accounts <= 0;
END
$$;
--> statement-breakpoint
CREATE FUNCTION scope_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed text[];
  deltas integer[];
BEGIN
  -- Each branch reads only the transition tables its trigger declares.
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(scope ORDER BY scope), array_agg(n ORDER BY scope) INTO changed, deltas
    FROM (SELECT x.scope, count(*)::integer AS n
          FROM new_rows r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.scopes)) AS x(scope) GROUP BY x.scope) c;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(scope ORDER BY scope), array_agg(n ORDER BY scope) INTO changed, deltas
    FROM (SELECT x.scope, -count(*)::integer AS n
          FROM old_rows r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.scopes)) AS x(scope) GROUP BY x.scope) c;
  ELSE
    SELECT array_agg(scope ORDER BY scope), array_agg(n ORDER BY scope) INTO changed, deltas
    FROM (SELECT scope, sum(d)::integer AS n
          FROM (SELECT x.scope, 1 AS d FROM new_rows r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.scopes)) AS x(scope)
                UNION ALL
                SELECT x.scope, -1 FROM old_rows r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.scopes)) AS x(scope)) d
          GROUP BY scope HAVING sum(d) <> 0) c;
  END IF;
  PERFORM scope_usage_apply(changed, deltas);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER service_accounts_scope_usage_insert AFTER INSERT ON service_accounts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scope_usage_track();
--> statement-breakpoint
CREATE TRIGGER service_accounts_scope_usage_update AFTER UPDATE ON service_accounts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scope_usage_track();
--> statement-breakpoint
CREATE TRIGGER service_accounts_scope_usage_delete AFTER DELETE ON service_accounts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scope_usage_track();
--> statement-breakpoint
-- The accounts that exist already.
INSERT INTO scope_usage (scope, accounts)
SELECT x.scope, count(*) FROM service_accounts r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.scopes)) AS x(scope) GROUP BY x.scope;
