/**
 * Every generic resource of the admin UI, in menu order. Each screen is its
 * own lazy chunk. Hand-built screens (features, approvals, dashboards) come
 * from their folders and are added to this array or to <CustomRoutes> in
 * App.tsx.
 */
import { Resource } from "react-admin";

import { lazyScreen } from "./common/lazyScreen.ts";

const environments = () => import("./environments/Environments.tsx");
const pipelines = () => import("./pipelines/Pipelines.tsx");
const contexts = () => import("./contexts/Contexts.tsx");
const segments = () => import("./segments/Segments.tsx");
const clients = () => import("./clients/Clients.tsx");
const apiTokens = () => import("./apiTokens/ApiTokens.tsx");
const approvalPolicies = () => import("./approvalPolicies/ApprovalPolicies.tsx");
const freezeWindows = () => import("./freezeWindows/FreezeWindows.tsx");
const scheduledChanges = () => import("./scheduledChanges/ScheduledChanges.tsx");
const auditLogs = () => import("./auditLogs/AuditLogs.tsx");
const teams = () => import("./teams/Teams.tsx");
const users = () => import("./users/Users.tsx");

const record = (field: string) => (r: Record<string, unknown>) => String(r[field] ?? r.id);

export const resources = [
  <Resource
    key="environments"
    name="environments"
    options={{ label: "Environments" }}
    recordRepresentation={record("name")}
    list={lazyScreen(environments, "EnvironmentList")}
    edit={lazyScreen(environments, "EnvironmentEdit")}
    create={lazyScreen(environments, "EnvironmentCreate")}
  />,
  <Resource
    key="pipelines"
    name="pipelines"
    options={{ label: "Pipelines" }}
    recordRepresentation={record("name")}
    list={lazyScreen(pipelines, "PipelineList")}
    edit={lazyScreen(pipelines, "PipelineEdit")}
    create={lazyScreen(pipelines, "PipelineCreate")}
  />,
  <Resource
    key="pipelineStages"
    name="pipelineStages"
    options={{ label: "Pipeline stages" }}
    create={lazyScreen(pipelines, "PipelineStageCreate")}
    edit={lazyScreen(pipelines, "PipelineStageEdit")}
  />,
  <Resource
    key="contexts"
    name="contexts"
    options={{ label: "Contexts" }}
    recordRepresentation={record("key")}
    list={lazyScreen(contexts, "ContextList")}
    edit={lazyScreen(contexts, "ContextEdit")}
    create={lazyScreen(contexts, "ContextCreate")}
  />,
  <Resource
    key="segments"
    name="segments"
    options={{ label: "Segments" }}
    recordRepresentation={record("key")}
    list={lazyScreen(segments, "SegmentList")}
    edit={lazyScreen(segments, "SegmentEdit")}
    create={lazyScreen(segments, "SegmentCreate")}
  />,
  <Resource
    key="clients"
    name="clients"
    options={{ label: "Clients" }}
    recordRepresentation={record("name")}
    list={lazyScreen(clients, "ClientList")}
    edit={lazyScreen(clients, "ClientEdit")}
    create={lazyScreen(clients, "ClientCreate")}
  />,
  <Resource
    key="apiTokens"
    name="apiTokens"
    options={{ label: "API tokens" }}
    recordRepresentation={record("name")}
    list={lazyScreen(apiTokens, "ApiTokenList")}
    create={lazyScreen(apiTokens, "ApiTokenCreate")}
  />,
  <Resource
    key="approvalPolicies"
    name="approvalPolicies"
    options={{ label: "Approval policies" }}
    recordRepresentation={record("name")}
    list={lazyScreen(approvalPolicies, "ApprovalPolicyList")}
    edit={lazyScreen(approvalPolicies, "ApprovalPolicyEdit")}
    create={lazyScreen(approvalPolicies, "ApprovalPolicyCreate")}
  />,
  <Resource
    key="freezeWindows"
    name="freezeWindows"
    options={{ label: "Freeze windows" }}
    recordRepresentation={record("name")}
    list={lazyScreen(freezeWindows, "FreezeWindowList")}
    edit={lazyScreen(freezeWindows, "FreezeWindowEdit")}
    create={lazyScreen(freezeWindows, "FreezeWindowCreate")}
  />,
  <Resource
    key="scheduledChanges"
    name="scheduledChanges"
    options={{ label: "Scheduled changes" }}
    list={lazyScreen(scheduledChanges, "ScheduledChangeList")}
  />,
  <Resource
    key="auditLogs"
    name="auditLogs"
    options={{ label: "Audit log" }}
    list={lazyScreen(auditLogs, "AuditLogList")}
    show={lazyScreen(auditLogs, "AuditLogShow")}
  />,
  <Resource
    key="teams"
    name="teams"
    options={{ label: "Teams" }}
    recordRepresentation={record("name")}
    list={lazyScreen(teams, "TeamList")}
    edit={lazyScreen(teams, "TeamEdit")}
    create={lazyScreen(teams, "TeamCreate")}
  />,
  <Resource
    key="teamMemberships"
    name="teamMemberships"
    options={{ label: "Team memberships" }}
    create={lazyScreen(teams, "TeamMembershipCreate")}
    edit={lazyScreen(teams, "TeamMembershipEdit")}
  />,
  <Resource
    key="users"
    name="users"
    options={{ label: "Users" }}
    recordRepresentation={(r) => String(r.name || r.email)}
    list={lazyScreen(users, "UserList")}
    edit={lazyScreen(users, "UserEdit")}
    create={lazyScreen(users, "UserCreate")}
  />,
];
