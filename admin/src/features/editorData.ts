/** The shape FEATURE_EDITOR_QUERY returns, shared by the editor's sections. */
import type { StageStatus } from "./featureLogic.ts";
import type { KillInfo } from "./KillSwitchButton.tsx";

export interface EditorCriterion {
  rowId: string;
  name: string | null;
  priority: number;
  rules: unknown;
  rolloutBasisPoints: number;
  variant: string | null;
  split: unknown;
}

export interface EditorStage {
  rowId: string;
  status: StageStatus;
  statusChangedAt: string | null;
  defaultVariant: string | null;
  position: number;
  parentStageId: string | null;
  environment: {
    rowId: string;
    key: string;
    name: string;
    type: string;
    position: number;
  } | null;
  criteria: { nodes: EditorCriterion[] };
}

export interface EditorRequest {
  rowId: string;
  featureStageId: string;
  action: string;
  status: "pending" | "approved" | "rejected" | "cancelled" | "applied";
  reason: string;
  createdAt: string;
  requiredApprovals: number;
  requester: { name: string } | null;
  votes: { totalCount: number };
}

export interface EditorFeature {
  id: string;
  rowId: string;
  teamId: string;
  key: string;
  name: string;
  description: string;
  kind: "simple" | "contextual";
  valueType: "boolean" | "string" | "number" | "json";
  variants: Array<{ key: string; value: unknown; description?: string }>;
  offVariant: string;
  sticky: boolean;
  lifecycle: "draft" | "active" | "deprecated" | "archived";
  killSwitch: boolean;
  tags: string[];
  purpose: string;
  ownerId: string | null;
  expiresAt: string | null;
  referenceUrl: string | null;
  staleReasons: string[] | null;
  updatedAt: string;
  dependencies: {
    nodes: Array<{
      rowId: string;
      dependsOnId: string;
      requiredVariant: string | null;
      dependsOn: { rowId: string; key: string; name: string } | null;
    }>;
  };
  stages: { nodes: EditorStage[] };
  versions: { nodes: Array<{ rowId: string; version: number; createdAt: string }> };
  kills: { nodes: KillInfo[] };
  approvalRequests: { nodes: EditorRequest[] };
  team: {
    rowId: string;
    contexts: {
      nodes: Array<{ key: string; name: string; type: string; allowedValues: unknown[] | null }>;
    };
    segments: { nodes: Array<{ key: string; name: string | null }> };
  } | null;
}
