import {
  Alert,
  Autocomplete,
  Box,
  Button,
  Checkbox,
  Divider,
  FormControlLabel,
  IconButton,
  MenuItem,
  Paper,
  Stack,
  TextField,
  ToggleButton,
  ToggleButtonGroup,
  Tooltip,
  Typography,
} from "@mui/material";
import { type ComponentProps, useMemo, useState } from "react";

import { OPERATOR_LABELS } from "./operatorLabels.ts";
import type {
  AttributeCondition,
  Condition,
  ContextDefinition,
  Operator,
  RuleGroup,
  SegmentCondition,
} from "./types.ts";
import {
  arityOf,
  MAX_CONDITIONS,
  MAX_GROUPS,
  operatorApplies,
  operatorsFor,
  type RuleIssue,
  TARGETING_KEY,
  validateRules,
} from "./validateRules.ts";

/** An issue to show next to its condition: `path` relative to the rules (`rules[0].conditions[1]…`). */
export interface RuleError {
  path: string;
  message: string;
  code?: string;
}

export interface RuleBuilderProps {
  contexts: ContextDefinition[];
  segments: Array<{ key: string; name?: string | null }>;
  value: RuleGroup[];
  onChange: (next: RuleGroup[]) => void;
  /** Issues from elsewhere (the server's answer), shown with the editor's own. */
  errors?: readonly RuleError[];
}

const PLACEHOLDER: Record<string, string> = {
  semver: "2.3.0",
  date: "2025-01-31T12:00:00Z",
  number: "42",
};

const NUMERAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

export function isSegmentCondition(c: Condition): c is SegmentCondition {
  return typeof c === "object" && c !== null && "segment" in c;
}

/** Typed text as the value a context of `type` compares with; what does not parse stays text (and is flagged). */
function toValue(type: string, op: Operator, text: string): unknown {
  if (
    type === "number" &&
    op !== "REGEX" &&
    !["CONTAINS", "STARTS_WITH", "ENDS_WITH"].includes(op)
  ) {
    const n = Number(text);
    return NUMERAL.test(text) && Number.isFinite(n) ? n : text;
  }
  if (type === "boolean" && (text === "true" || text === "false")) return text === "true";
  return text;
}

const label = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** A text box that keeps what is typed while focused, so "1." is not reformatted to "1". */
function DraftField(
  props: Omit<ComponentProps<typeof TextField>, "onChange" | "value"> & {
    value: string;
    onText: (text: string) => void;
  },
) {
  const { value, onText, ...rest } = props;
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <TextField
      {...rest}
      value={draft ?? value}
      onChange={(event) => {
        setDraft(event.target.value);
        onText(event.target.value);
      }}
      onBlur={() => setDraft(null)}
    />
  );
}

interface ContextOption {
  key: string;
  type: string;
  name?: string | null;
  allowedValues?: unknown[] | null;
  unknown?: boolean;
}

/**
 * Rule groups (OR'ed), each an AND or OR of attribute conditions and segment
 * references. Attributes come from the team's contexts (and the built-in
 * targetingKey), operators from the attribute's type, and every change is
 * checked as you type by `validateRules` with the server's rules; problems
 * are shown next to the field they concern.
 */
export function RuleBuilder({
  contexts,
  segments,
  value,
  onChange,
  errors = [],
}: RuleBuilderProps) {
  const options: ContextOption[] = useMemo(
    () => [
      { key: TARGETING_KEY, type: "string", name: "Targeting key" },
      ...contexts.filter((c) => c.key !== TARGETING_KEY),
    ],
    [contexts],
  );
  const issues: RuleError[] = useMemo(() => {
    const own: RuleIssue[] = validateRules(value, contexts, segments);
    const seen = new Set(own.map((i) => `${i.path} ${i.message}`));
    return [...own, ...errors.filter((e) => !seen.has(`${e.path} ${e.message}`))];
  }, [value, contexts, segments, errors]);

  const at = (path: string, exact = false) =>
    issues.filter((i) =>
      exact
        ? i.path === path
        : i.path === path || i.path.startsWith(`${path}.`) || i.path.startsWith(`${path}[`),
    );

  const setGroup = (g: number, group: RuleGroup) =>
    onChange(value.map((x, i) => (i === g ? group : x)));
  const setCondition = (g: number, c: number, condition: Condition) =>
    setGroup(g, {
      ...value[g]!,
      conditions: value[g]!.conditions.map((x, i) => (i === c ? condition : x)),
    });

  const newCondition = (): AttributeCondition => {
    const first = options[1] ?? options[0]!;
    return { attribute: first.key, operator: "EQUALS", values: [] };
  };

  const topIssues = at("rules", true);

  return (
    <Box>
      {value.length === 0 && (
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          No conditions: this matches every context.
        </Typography>
      )}
      {topIssues.map((i) => (
        <Alert key={i.message} severity="error" sx={{ mb: 1 }}>
          {i.message}
        </Alert>
      ))}
      <Stack spacing={1} divider={<Divider textAlign="left">or</Divider>}>
        {value.map((group, g) => {
          const gPath = `rules[${g}]`;
          const groupIssues = [
            ...at(gPath, true),
            ...at(`${gPath}.combinator`, true),
            ...at(`${gPath}.conditions`, true),
          ];
          const combinator = group.combinator === "OR" ? "OR" : "AND";
          return (
            <Paper
              key={g}
              variant="outlined"
              sx={{ p: 1.5 }}
              role="group"
              aria-label={`Rule group ${g + 1}`}
            >
              <Stack direction="row" spacing={1} sx={{ alignItems: "center", mb: 1 }}>
                <Typography variant="subtitle2">Group {g + 1}: match</Typography>
                <ToggleButtonGroup
                  size="small"
                  exclusive
                  value={combinator}
                  aria-label={`How group ${g + 1} combines its conditions`}
                  onChange={(_, next: "AND" | "OR" | null) => {
                    if (next !== null) setGroup(g, { ...group, combinator: next });
                  }}
                >
                  <ToggleButton value="AND">all (AND)</ToggleButton>
                  <ToggleButton value="OR">any (OR)</ToggleButton>
                </ToggleButtonGroup>
                <Box sx={{ flex: 1 }} />
                <Button
                  size="small"
                  color="error"
                  onClick={() => onChange(value.filter((_, i) => i !== g))}
                >
                  Remove group {g + 1}
                </Button>
              </Stack>
              {group.conditions.length === 0 && (
                <Typography variant="body2" color="text.secondary">
                  {combinator === "AND"
                    ? "No conditions: the group matches every context."
                    : "No conditions: the group matches nothing."}
                </Typography>
              )}
              <Stack spacing={1}>
                {group.conditions.map((condition, c) => {
                  const cPath = `${gPath}.conditions[${c}]`;
                  const name = `condition ${c + 1} of group ${g + 1}`;
                  const remove = () =>
                    setGroup(g, {
                      ...group,
                      conditions: group.conditions.filter((_, i) => i !== c),
                    });
                  return (
                    <Box key={c}>
                      {isSegmentCondition(condition) ? (
                        <SegmentRow
                          name={name}
                          condition={condition}
                          segments={segments}
                          issues={at(cPath)}
                          onChange={(next) => setCondition(g, c, next)}
                          onRemove={remove}
                        />
                      ) : (
                        <AttributeRow
                          name={name}
                          path={cPath}
                          condition={condition}
                          options={options}
                          issues={at(cPath)}
                          onChange={(next) => setCondition(g, c, next)}
                          onRemove={remove}
                        />
                      )}
                    </Box>
                  );
                })}
              </Stack>
              {groupIssues.map((i) => (
                <Alert key={`${i.path}${i.message}`} severity="error" sx={{ mt: 1 }}>
                  {i.message}
                </Alert>
              ))}
              <Stack direction="row" spacing={1} sx={{ mt: 1 }}>
                <Button
                  size="small"
                  disabled={group.conditions.length >= MAX_CONDITIONS}
                  onClick={() =>
                    setGroup(g, { ...group, conditions: [...group.conditions, newCondition()] })
                  }
                >
                  Add condition to group {g + 1}
                </Button>
                <Button
                  size="small"
                  disabled={segments.length === 0 || group.conditions.length >= MAX_CONDITIONS}
                  onClick={() =>
                    setGroup(g, {
                      ...group,
                      conditions: [...group.conditions, { segment: segments[0]!.key }],
                    })
                  }
                >
                  Add segment to group {g + 1}
                </Button>
              </Stack>
            </Paper>
          );
        })}
      </Stack>
      <Button
        size="small"
        sx={{ mt: 1 }}
        disabled={value.length >= MAX_GROUPS}
        onClick={() => onChange([...value, { combinator: "AND", conditions: [newCondition()] }])}
      >
        {value.length === 0 ? "Add a rule group" : "Add another group (or)"}
      </Button>
    </Box>
  );
}

function messages(issues: readonly RuleError[]): string | undefined {
  return issues.length === 0 ? undefined : [...new Set(issues.map((i) => i.message))].join("; ");
}

function SegmentRow(props: {
  name: string;
  condition: SegmentCondition;
  segments: RuleBuilderProps["segments"];
  issues: RuleError[];
  onChange: (next: SegmentCondition) => void;
  onRemove: () => void;
}) {
  const { name, condition, segments, issues, onChange, onRemove } = props;
  const known = segments.some((s) => s.key === condition.segment);
  return (
    <Stack sx={{ alignItems: "flex-start" }} direction={{ xs: "column", md: "row" }} spacing={1}>
      <FormControlLabel
        control={
          <Checkbox
            checked={condition.negate === true}
            onChange={(event) => {
              const { negate: _, ...rest } = condition;
              onChange(event.target.checked ? { ...rest, negate: true } : rest);
            }}
          />
        }
        label="not"
        aria-label={`Negate ${name}`}
      />
      <TextField
        select
        size="small"
        label={`Segment of ${name}`}
        value={condition.segment}
        error={issues.length > 0}
        helperText={messages(issues)}
        onChange={(event) => onChange({ ...condition, segment: event.target.value })}
        sx={{ minWidth: 220 }}
      >
        {!known && (
          <MenuItem value={condition.segment} disabled>
            {condition.segment} (unknown)
          </MenuItem>
        )}
        {segments.map((s) => (
          <MenuItem key={s.key} value={s.key}>
            {s.name ? `${s.name} (${s.key})` : s.key}
          </MenuItem>
        ))}
      </TextField>
      <RemoveButton name={name} onClick={onRemove} />
    </Stack>
  );
}

function RemoveButton({ name, onClick }: { name: string; onClick: () => void }) {
  return (
    <Tooltip title={`Remove ${name}`}>
      <IconButton aria-label={`Remove ${name}`} onClick={onClick}>
        <span aria-hidden>×</span>
      </IconButton>
    </Tooltip>
  );
}

function AttributeRow(props: {
  name: string;
  path: string;
  condition: AttributeCondition;
  options: ContextOption[];
  issues: RuleError[];
  onChange: (next: AttributeCondition) => void;
  onRemove: () => void;
}) {
  const { name, path, condition, options, issues, onChange, onRemove } = props;
  const found = options.find((o) => o.key === condition.attribute);
  const context: ContextOption = found ?? {
    key: condition.attribute,
    type: "string",
    unknown: true,
  };
  const type = context.type;
  const op = condition.operator;
  const arity = arityOf(op);
  const fieldIssues = (suffix: string) =>
    issues.filter((i) => i.path.slice(path.length).startsWith(suffix));
  const attributeIssues = fieldIssues(".attribute");
  const operatorIssues = fieldIssues(".operator");
  const valueIssues = fieldIssues(".values");
  const rowIssues = issues.filter(
    (i) => !attributeIssues.includes(i) && !operatorIssues.includes(i) && !valueIssues.includes(i),
  );
  const offered = operatorsFor(type);
  const withOperator = (next: Operator): AttributeCondition => {
    const { values, caseInsensitive, ...rest } = condition;
    const a = arityOf(next);
    const keepFold = caseInsensitive !== undefined && a !== "none" ? { caseInsensitive } : {};
    if (a === "none") return { ...rest, operator: next };
    const list = values ?? [];
    return { ...rest, operator: next, values: a === "one" ? list.slice(0, 1) : list, ...keepFold };
  };

  return (
    <Box>
      <Stack sx={{ alignItems: "flex-start" }} direction={{ xs: "column", md: "row" }} spacing={1}>
        <TextField
          select
          size="small"
          label={`Attribute of ${name}`}
          value={condition.attribute}
          error={attributeIssues.length > 0}
          helperText={messages(attributeIssues)}
          onChange={(event) => {
            const next = options.find((o) => o.key === event.target.value);
            if (next === undefined) return;
            const sameType = next.type === type;
            const operator = operatorApplies(op, next.type) ? op : "EQUALS";
            const { values: _, caseInsensitive, ...rest } = condition;
            const fold =
              next.type === "string" && caseInsensitive !== undefined ? { caseInsensitive } : {};
            onChange(
              arityOf(operator) === "none"
                ? { ...rest, attribute: next.key, operator, ...fold }
                : {
                    ...rest,
                    attribute: next.key,
                    operator,
                    values: sameType && operator === op ? (condition.values ?? []) : [],
                    ...fold,
                  },
            );
          }}
          sx={{ minWidth: 200 }}
        >
          {context.unknown && (
            <MenuItem value={condition.attribute} disabled>
              {condition.attribute} (unknown)
            </MenuItem>
          )}
          {options.map((o) => (
            <MenuItem key={o.key} value={o.key}>
              {o.name && o.name !== o.key ? `${o.name} (${o.key})` : o.key} · {o.type}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          select
          size="small"
          label={`Operator of ${name}`}
          value={op}
          error={operatorIssues.length > 0}
          helperText={messages(operatorIssues)}
          onChange={(event) => onChange(withOperator(event.target.value as Operator))}
          sx={{ minWidth: 200 }}
        >
          {!offered.includes(op) && (
            <MenuItem value={op} disabled>
              {op} (not for {type})
            </MenuItem>
          )}
          {offered.map((o) => (
            <MenuItem key={o} value={o}>
              {OPERATOR_LABELS[o]} ({o})
            </MenuItem>
          ))}
        </TextField>
        {arity !== "none" && (
          <ValuesInput
            name={name}
            context={context}
            condition={condition}
            error={messages(valueIssues)}
            onChange={(values) => onChange({ ...condition, values })}
          />
        )}
        {type === "string" && arity !== "none" && (
          <FormControlLabel
            control={
              <Checkbox
                checked={condition.caseInsensitive === true}
                onChange={(event) => {
                  const { caseInsensitive: _, ...rest } = condition;
                  onChange(event.target.checked ? { ...rest, caseInsensitive: true } : rest);
                }}
              />
            }
            label="ignore case"
            aria-label={`Ignore case in ${name}`}
          />
        )}
        <RemoveButton name={name} onClick={onRemove} />
      </Stack>
      {rowIssues.map((i) => (
        <Typography
          key={`${i.path}${i.message}`}
          variant="caption"
          color="error"
          component="p"
          role="alert"
        >
          {i.message}
        </Typography>
      ))}
    </Box>
  );
}

function ValuesInput(props: {
  name: string;
  context: ContextOption;
  condition: AttributeCondition;
  error: string | undefined;
  onChange: (values: unknown[]) => void;
}) {
  const { name, context, condition, error, onChange } = props;
  const op = condition.operator;
  const values = condition.values ?? [];
  const equality = ["EQUALS", "NOT_EQUALS", "IN", "NOT_IN"].includes(op);
  const allowed = equality && Array.isArray(context.allowedValues) ? context.allowedValues : null;
  const choices: unknown[] | null =
    allowed ?? (context.type === "boolean" && equality ? [true, false] : null);
  const fieldLabel = arityOf(op) === "list" ? `Values of ${name}` : `Value of ${name}`;
  const placeholder = op === "REGEX" ? "^pro-[0-9]+$" : PLACEHOLDER[context.type];

  if (arityOf(op) === "list") {
    return (
      <Autocomplete
        multiple
        freeSolo={choices === null}
        size="small"
        options={choices ?? []}
        value={values}
        getOptionLabel={label}
        isOptionEqualToValue={(a, b) => a === b}
        filterSelectedOptions
        onChange={(_, next) =>
          onChange(
            next.map((v) =>
              typeof v === "string" && choices === null ? toValue(context.type, op, v) : v,
            ),
          )
        }
        renderInput={(params) => (
          <TextField
            {...params}
            label={fieldLabel}
            error={error !== undefined}
            helperText={error ?? (choices === null ? "Press Enter after each value" : undefined)}
            placeholder={placeholder}
          />
        )}
        sx={{ minWidth: 260, flex: 1 }}
      />
    );
  }
  if (choices !== null) {
    const index = choices.findIndex((c) => c === values[0]);
    return (
      <TextField
        select
        size="small"
        label={fieldLabel}
        value={values.length === 0 ? "" : index >= 0 ? String(index) : "other"}
        error={error !== undefined}
        helperText={error}
        onChange={(event) => onChange([choices[Number(event.target.value)]])}
        sx={{ minWidth: 200, flex: 1 }}
      >
        {index < 0 && values.length > 0 && (
          <MenuItem value="other" disabled>
            {label(values[0])} (not allowed)
          </MenuItem>
        )}
        {choices.map((c, i) => (
          <MenuItem key={i} value={String(i)}>
            {label(c)}
          </MenuItem>
        ))}
      </TextField>
    );
  }
  return (
    <DraftField
      size="small"
      label={fieldLabel}
      value={values.length === 0 ? "" : label(values[0])}
      error={error !== undefined}
      helperText={error}
      placeholder={placeholder}
      onText={(text) => onChange(text === "" ? [] : [toValue(context.type, op, text)])}
      slotProps={{ htmlInput: { spellCheck: false } }}
      sx={{ minWidth: 200, flex: 1 }}
    />
  );
}
