-- Read access: a BI role that reads everything, and a base role for
-- per-tenant readers (users made by `pulse schema tenant-user`), limited
-- by row policies to their tenant's rows.
--
-- Row policies: a user to whom no policy on a table applies reads either
-- all rows or none, depending on the server's
-- access_control_improvements.users_without_row_policies_can_read_rows. So
-- every reader gets an explicit policy on events and on every rollup:
--   <db>_all_rows   USING 1  TO ALL EXCEPT <db>_tenant: admins, the BI role
--                   and pulse itself read every row on any server config;
--   <db>_tenant_none USING 0 TO <db>_tenant: a tenant reader sees nothing
--                   unless a policy for its own tenant adds rows (permissive
--                   policies are OR-ed), so a user whose tenant policy is
--                   missing sees no rows, never all of them.
-- Tenant readers are not granted the dead letters or schema_migrations.
-- Requires SQL-driven access control (access_management for the user that
-- applies the schema).
CREATE ROLE IF NOT EXISTS {{database}}_bi;

GRANT SELECT ON {{database}}.* TO {{database}}_bi;

CREATE ROLE IF NOT EXISTS {{database}}_tenant;

GRANT SELECT ON {{database}}.events TO {{database}}_tenant;

GRANT SELECT ON {{database}}.daily_active_users TO {{database}}_tenant;

GRANT SELECT ON {{database}}.daily_event_counts TO {{database}}_tenant;

GRANT SELECT ON {{database}}.user_days TO {{database}}_tenant;

GRANT SELECT ON {{database}}.user_event_days TO {{database}}_tenant;

CREATE ROW POLICY IF NOT EXISTS {{database}}_all_rows ON {{database}}.events, {{database}}.daily_active_users, {{database}}.daily_event_counts, {{database}}.user_days, {{database}}.user_event_days
    AS PERMISSIVE FOR SELECT USING 1 TO ALL EXCEPT {{database}}_tenant;

CREATE ROW POLICY IF NOT EXISTS {{database}}_tenant_none ON {{database}}.events, {{database}}.daily_active_users, {{database}}.daily_event_counts, {{database}}.user_days, {{database}}.user_event_days
    AS PERMISSIVE FOR SELECT USING 0 TO {{database}}_tenant;
