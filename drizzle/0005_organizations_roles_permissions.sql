CREATE TABLE "roles" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"scopes" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "service_accounts" DROP CONSTRAINT "service_accounts_name_unique";--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "org_id" text;--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "org_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "roles" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "permissions" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "roles_org_name_idx" ON "roles" USING btree ("org_id","name");--> statement-breakpoint
CREATE INDEX "audit_events_org_idx" ON "audit_events" USING btree ("org_id","occurred_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "service_accounts_org_name_idx" ON "service_accounts" USING btree ("org_id","name");--> statement-breakpoint
CREATE INDEX "service_accounts_org_created_idx" ON "service_accounts" USING btree ("org_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
-- Accounts that could administer everything before organizations existed keep doing so: the built-in
-- platform-admin role (accounts/roles.ts). Every existing account and event belongs to the default organization.
UPDATE "service_accounts" SET "roles" = '{platform-admin}'
  WHERE "scopes" @> '{service-account:read,service-account:create,service-account:update,service-account:delete}'::text[];--> statement-breakpoint
UPDATE "audit_events" SET "org_id" = 'default' WHERE "account_id" IS NOT NULL;
