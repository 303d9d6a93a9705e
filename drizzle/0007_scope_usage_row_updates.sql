-- 0006 counted updates with a statement-level trigger, which runs (and builds its transition tables of whole
-- rows) for every UPDATE of service_accounts, including each flush of last-used times, which touches every
-- account used since the last one. Scopes change one account at a time, through the admin API, so updates are
-- now counted by a row-level trigger that fires only when a row's scopes actually change.
DROP TRIGGER service_accounts_scope_usage_update ON service_accounts;
--> statement-breakpoint
CREATE FUNCTION scope_usage_track_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed text[];
  deltas integer[];
BEGIN
  SELECT array_agg(scope ORDER BY scope), array_agg(n ORDER BY scope) INTO changed, deltas
  FROM (SELECT scope, sum(d)::integer AS n
        FROM (SELECT DISTINCT unnest(NEW.scopes) AS scope, 1 AS d
              UNION ALL
              SELECT DISTINCT unnest(OLD.scopes), -1) x
        GROUP BY scope HAVING sum(d) <> 0) c;
  PERFORM scope_usage_apply(changed, deltas);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER service_accounts_scope_usage_update AFTER UPDATE OF scopes ON service_accounts
  FOR EACH ROW WHEN (OLD.scopes IS DISTINCT FROM NEW.scopes) EXECUTE FUNCTION scope_usage_track_row();
--> statement-breakpoint
-- The statement-level function now serves inserts and deletes only.
CREATE OR REPLACE FUNCTION scope_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed text[];
  deltas integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(scope ORDER BY scope), array_agg(n ORDER BY scope) INTO changed, deltas
    FROM (SELECT x.scope, count(*)::integer AS n
          FROM new_rows r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.scopes)) AS x(scope) GROUP BY x.scope) c;
  ELSE
    SELECT array_agg(scope ORDER BY scope), array_agg(n ORDER BY scope) INTO changed, deltas
    FROM (SELECT x.scope, -count(*)::integer AS n
          FROM old_rows r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.scopes)) AS x(scope) GROUP BY x.scope) c;
  END IF;
  PERFORM scope_usage_apply(changed, deltas);
  RETURN NULL;
END
$$;
