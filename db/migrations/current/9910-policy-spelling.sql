/*
 * One policy spelling, written where it is in force.
 *
 * Migrations 000001 and 000002 wrote these read policies as
 * `using (app_hidden.current_user_can_read_team(team_id))`, a call Postgres
 * cannot inline and so runs once per row, and 000002's
 * `9900-policy-performance` section then rewrote them by regex into the form
 * below. This file states that form explicitly, so the source shows what is
 * in force: each helper call is an uncorrelated sub-select (an InitPlan) that
 * Postgres evaluates once per query. The effective policies are unchanged
 * (same text in pg_policies before and after). The 9900 block still runs
 * when 000002 is applied (committed files are immutable), but nothing relies
 * on it any more, and no later migration repeats it: new policies are written
 * this way from the start, and the schema-conventions test fails for any
 * policy that calls current_user_can_read_team.
 *
 * The fifth policy 9900 rewrote, audit_log's select_member, is stated in
 * 1110-security-hardening.sql (which also hides API-token entries from
 * non-admins).
 *
 * Re-runnable: `alter policy` only replaces each expression.
 */
alter policy select_member on app_public.teams
  using (id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));

alter policy select_member on app_public.team_memberships
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));

alter policy select_member on app_public.change_feed
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));

alter policy select_member on app_public.feature_versions
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
