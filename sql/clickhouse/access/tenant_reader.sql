-- A per-tenant reader: a user holding the <db>_tenant role (migration 0004)
-- and a row policy that adds its tenant's rows on events and every rollup.
-- Every statement is idempotent, so running the command again resets the
-- password and repairs a missing grant or policy. The password (@password) and
-- the tenant (@tenant) are bound values; the names are validated and back-quoted.
CREATE USER IF NOT EXISTS {{tenant_user}} IDENTIFIED WITH sha256_password BY @password;

ALTER USER {{tenant_user}} IDENTIFIED WITH sha256_password BY @password;

GRANT {{database}}_tenant TO {{tenant_user}};

ALTER USER {{tenant_user}} DEFAULT ROLE {{database}}_tenant;

CREATE ROW POLICY OR REPLACE {{tenant_user}} ON {{database}}.events, {{database}}.daily_active_users, {{database}}.daily_event_counts, {{database}}.user_days, {{database}}.user_event_days
    AS PERMISSIVE FOR SELECT USING tenant_id = @tenant TO {{tenant_user}};
