CREATE TABLE "client_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"kid" text NOT NULL,
	"alg" text NOT NULL,
	"jwk" jsonb NOT NULL,
	"thumbprint" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"last_used_at" timestamp with time zone,
	"last_used_ip" text,
	CONSTRAINT "client_keys_status_check" CHECK ("client_keys"."status" in ('active', 'disabled'))
);
--> statement-breakpoint
CREATE TABLE "used_jtis" (
	"key" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "token_endpoint_auth_methods" text[] DEFAULT '{client_secret_basic,client_secret_post}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "require_dpop" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "client_keys" ADD CONSTRAINT "client_keys_account_id_service_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "client_keys_account_kid_idx" ON "client_keys" USING btree ("account_id","kid");--> statement-breakpoint
CREATE INDEX "used_jtis_expires_idx" ON "used_jtis" USING btree ("expires_at");