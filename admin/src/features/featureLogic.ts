/**
 * The feature screens' pure logic: list paging, what a stage's status allows,
 * kill countdowns, API errors mapped to form fields, and the drafts the
 * editor seams exchange. No React, no I/O: unit-tested in featureLogic.test.ts.
 */
import { ApiError } from "../api/errors.ts";
import type { CriterionDraft, DependencyDraft, Variant } from "./editor/types.ts";

/** The API refuses pages over 1,000 rows (PAGE_TOO_LARGE). */
export const PAGE_SIZES = [10, 25, 50, 100] as const;

export type SortField = "key" | "name" | "updated";
export type SortOrder = "ASC" | "DESC";
export type Lifecycle = "draft" | "active" | "deprecated" | "archived";

export interface ListState {
  /** 0-based page. */
  page: number;
  perPage: number;
  sort: { field: SortField; order: SortOrder };
  /** A text in the key or the name (case-insensitive); empty: any. */
  search: string;
  /** Tags the features must all have; empty: any. */
  tags: string[];
  /** Lifecycles to show; empty: any. */
  lifecycles: Lifecycle[];
  /** Killed or not; null: either. */
  killed: boolean | null;
}

export const EMPTY_LIST_STATE: ListState = {
  page: 0,
  perPage: 25,
  sort: { field: "key", order: "ASC" },
  search: "",
  tags: [],
  lifecycles: [],
  killed: null,
};

/** The FEATURE_LIST_QUERY variables for a list state: one page, never all rows. */
export function listVariables(teamId: string, state: ListState): Record<string, unknown> {
  const perPage = Math.min(Math.max(1, Math.trunc(state.perPage) || 25), 1000);
  const page = Math.max(0, Math.trunc(state.page) || 0);
  const variables: Record<string, unknown> = {
    teamId,
    first: perPage,
    offset: page * perPage,
    sort: `${state.sort.order === "DESC" ? "-" : ""}${state.sort.field}`,
  };
  // The API takes at most 200 characters of search text.
  const search = state.search.trim().slice(0, 200);
  if (search) variables.search = search;
  const tags = [...new Set(state.tags.map((tag) => tag.trim()).filter(Boolean))];
  if (tags.length > 0) variables.tags = tags;
  if (state.lifecycles.length > 0) variables.lifecycles = state.lifecycles;
  if (state.killed !== null) variables.killed = state.killed;
  return variables;
}

/** Whether a list state narrows the features at all (for the empty-list message). */
export function isFiltered(state: ListState): boolean {
  return (
    state.search.trim() !== "" ||
    state.tags.length > 0 ||
    state.lifecycles.length > 0 ||
    state.killed !== null
  );
}

/** The last page that exists for `totalCount` rows (0 when there are none). */
export function lastPage(totalCount: number, perPage: number): number {
  return Math.max(0, Math.ceil(totalCount / perPage) - 1);
}

export type StageStatus =
  | "not_deployed"
  | "deployment_requested"
  | "deployment_approved"
  | "deployment_rejected"
  | "deployed"
  | "rollback_requested"
  | "rollback_approved"
  | "rollback_rejected"
  | "rollbacked";

/** Served: deployed, and a rollback that is not finalized (docs/governance.md). */
export function isServed(status: StageStatus): boolean {
  return (
    status === "deployed" ||
    status === "rollback_requested" ||
    status === "rollback_approved" ||
    status === "rollback_rejected"
  );
}

/** A request is open: it must be decided or cancelled (in the inbox) first. */
export function hasOpenRequest(status: StageStatus): boolean {
  return status.endsWith("_requested") || status.endsWith("_approved");
}

/** Which of "deploy" and "rollback" a stage's status allows to request. */
export function allowedActions(status: StageStatus): Array<"deploy" | "rollback"> {
  switch (status) {
    case "not_deployed":
    case "deployment_rejected":
    case "rollbacked":
      return ["deploy"];
    case "deployed":
    case "rollback_rejected":
      return ["rollback"];
    default:
      return [];
  }
}

/** A chip's label and colour for a status. */
export function statusChip(status: StageStatus): {
  label: string;
  color: "default" | "success" | "warning" | "error" | "info";
} {
  const label = status.replaceAll("_", " ");
  if (status === "deployed") return { label, color: "success" };
  if (status === "rollback_rejected" || status === "deployment_rejected") {
    return { label, color: "error" };
  }
  if (hasOpenRequest(status)) return { label, color: "warning" };
  if (status === "rollbacked") return { label, color: "info" };
  return { label, color: "default" };
}

/** `1:05:09`, `4:59`, `0:00`: time left until `until`, never negative. */
export function formatCountdown(until: Date | string, now: Date | number = Date.now()): string {
  const end = typeof until === "string" ? Date.parse(until) : until.getTime();
  const from = typeof now === "number" ? now : now.getTime();
  const total = Math.max(0, Math.ceil((end - from) / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, "0");
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, "0")}:${ss}`;
  return `${minutes}:${ss}`;
}

/** The kill dialog's restore-after field: empty (no auto-restore) or 1..525600 whole minutes. */
export function parseRestoreMinutes(
  text: string,
): { ok: true; value: number | null } | { ok: false; message: string } {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, value: null };
  if (!/^\d+$/.test(trimmed)) return { ok: false, message: "Enter a whole number of minutes." };
  const value = Number(trimmed);
  if (value < 1 || value > 525_600) {
    return { ok: false, message: "Between 1 minute and 525,600 minutes (one year)." };
  }
  return { ok: true, value };
}

/**
 * Where a form shows an API error: the field it concerns among `fields`
 * (from `ApiError.field`, or the code when the form knows better), else
 * the form's top (`"form"`).
 */
export function errorField(
  error: unknown,
  fields: readonly string[],
  byCode: Record<string, string> = {},
): string {
  if (!(error instanceof ApiError)) return "form";
  const candidate = byCode[error.code] ?? error.field;
  return candidate && fields.includes(candidate) ? candidate : "form";
}

/** The create form's own field for codes the shared map does not place. */
export const CREATE_FIELD_OF_CODE: Record<string, string> = {
  NOVAR: "offVariant",
  BADVR: "variants",
  TEAMX: "ownerId",
  "23505": "key",
};

/** Checks the create form before it is sent; messages per field. */
export function validateCreate(values: {
  key: string;
  name: string;
  kind: string;
  variants: Variant[];
  offVariant: string;
}): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!values.key.trim()) errors.key = "A key is required.";
  else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(values.key.trim())) {
    errors.key = 'Start with a letter or digit, then up to 127 letters, digits, ".", "_" or "-".';
  }
  if (!values.name.trim()) errors.name = "A name is required.";
  if (values.kind === "contextual") {
    if (values.variants.length === 0) errors.variants = "Add at least one variant.";
    else if (!values.variants.some((variant) => variant.key === values.offVariant)) {
      errors.offVariant = "Choose one of the variants.";
    }
  }
  return errors;
}

/** The simple feature's fixed variants. */
export const SIMPLE_VARIANTS: Variant[] = [
  { key: "on", value: true },
  { key: "off", value: false },
];

/** A stored criterion as the CriteriaEditor takes it (and setStageCriteria accepts it). */
export function criterionDraft(node: {
  rowId: string;
  name?: string | null;
  rules: unknown;
  rolloutBasisPoints: number;
  variant?: string | null;
  split?: unknown;
}): CriterionDraft {
  return {
    rowId: node.rowId,
    name: node.name ?? null,
    rules: Array.isArray(node.rules) ? (node.rules as CriterionDraft["rules"]) : [],
    rolloutBasisPoints: node.rolloutBasisPoints,
    variant: node.variant ?? null,
    split: Array.isArray(node.split) ? (node.split as CriterionDraft["split"]) : null,
  };
}

/** What setStageCriteria receives: the drafts in priority order, without ids. */
export function criteriaPayload(drafts: CriterionDraft[]): unknown[] {
  return drafts.map((draft) => {
    const item: Record<string, unknown> = {
      rules: draft.rules,
      rolloutBasisPoints: draft.rolloutBasisPoints,
    };
    if (draft.name) item.name = draft.name;
    if (draft.split && draft.split.length > 0) item.split = draft.split;
    else item.variant = draft.variant ?? null;
    return item;
  });
}

/** What to create and delete to go from the stored dependencies to the picked ones. */
export function dependencyChanges(
  stored: Array<{ rowId: string; dependsOnId: string; requiredVariant?: string | null }>,
  picked: DependencyDraft[],
): {
  create: DependencyDraft[];
  remove: string[];
} {
  const same = (a?: string | null, b?: string | null) => (a ?? null) === (b ?? null);
  const remove = stored
    .filter(
      (row) =>
        !picked.some(
          (draft) =>
            draft.dependsOnId === row.dependsOnId &&
            same(draft.requiredVariant, row.requiredVariant),
        ),
    )
    .map((row) => row.rowId);
  const create = picked.filter(
    (draft) =>
      !stored.some(
        (row) =>
          row.dependsOnId === draft.dependsOnId && same(row.requiredVariant, draft.requiredVariant),
      ),
  );
  return { create, remove };
}

/** A tag list typed as `a, b , c`: trimmed, empty and duplicate entries dropped. */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(",")
        .map((tag) => tag.trim())
        .filter(Boolean),
    ),
  ];
}
