import {
  closestCenter,
  DndContext,
  type DragEndEvent,
  KeyboardSensor,
  PointerSensor,
  useSensor,
  useSensors,
} from "@dnd-kit/core";
import {
  arrayMove,
  SortableContext,
  sortableKeyboardCoordinates,
  useSortable,
  verticalListSortingStrategy,
} from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import {
  Alert,
  Box,
  Button,
  FormControl,
  FormControlLabel,
  FormLabel,
  IconButton,
  MenuItem,
  Paper,
  Radio,
  RadioGroup,
  Stack,
  TextField,
  Tooltip,
  Typography,
} from "@mui/material";
import { useRef } from "react";

import { distributeEvenly, TOTAL_BASIS_POINTS } from "./basisPoints.ts";
import { RolloutSlider } from "./RolloutSlider.tsx";
import { RuleBuilder, type RuleError } from "./RuleBuilder.tsx";
import { SplitEditor, splitProblem } from "./SplitEditor.tsx";
import type { ContextDefinition, CriterionDraft, Variant } from "./types.ts";
import { validateRules } from "./validateRules.ts";

/** A problem of one criterion: `path` within it (`rules[0]…`, `split`, `variant`, `rolloutBasisPoints`). */
export interface CriterionError {
  index: number;
  path?: string;
  message: string;
  code?: string;
}

export interface CriteriaEditorProps {
  contexts: ContextDefinition[];
  segments: Array<{ key: string; name?: string | null }>;
  variants: Variant[];
  value: CriterionDraft[];
  onChange: (next: CriterionDraft[]) => void;
  /** Problems from elsewhere (the server's answer), shown on their criterion. */
  errors?: readonly CriterionError[];
}

/**
 * What the server would refuse in a list of criteria: rules (validateRules'
 * codes), a rollout outside 0..10000 (BADRO), neither or both of variant and
 * split (BADSL), an unknown variant (NOVAR), a bad split (WEIGH).
 */
export function validateCriteria(
  criteria: readonly CriterionDraft[],
  contexts: readonly ContextDefinition[],
  segments: ReadonlyArray<{ key: string }>,
  variants: readonly Variant[],
): CriterionError[] {
  const problems: CriterionError[] = [];
  criteria.forEach((c, index) => {
    for (const issue of validateRules(c.rules, contexts, segments))
      problems.push({ index, ...issue });
    const bp = c.rolloutBasisPoints;
    if (!Number.isInteger(bp) || bp < 0 || bp > TOTAL_BASIS_POINTS) {
      problems.push({
        index,
        path: "rolloutBasisPoints",
        code: "BADRO",
        message: "The rollout must be from 0% to 100%.",
      });
    }
    const hasVariant = c.variant !== null && c.variant !== undefined;
    const hasSplit = c.split !== null && c.split !== undefined;
    if (hasVariant === hasSplit) {
      problems.push({
        index,
        path: "variant",
        code: "BADSL",
        message: hasVariant
          ? "Serve one variant or a split, not both."
          : "Choose the variant or the split to serve.",
      });
    } else if (hasVariant && !variants.some((v) => v.key === c.variant)) {
      problems.push({
        index,
        path: "variant",
        code: "NOVAR",
        message: `"${c.variant}" is not a variant of this feature.`,
      });
    } else if (hasSplit) {
      const problem = splitProblem(variants, c.split!);
      if (problem) problems.push({ index, path: "split", code: "WEIGH", message: problem });
    }
  });
  return problems;
}

function evenSplit(variants: readonly Variant[]) {
  const weights = distributeEvenly(variants.length);
  return variants.map((v, i) => ({ variant: v.key, weight: weights[i]! }));
}

let nextId = 0;

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A stage's criteria in priority order (the first that matches wins): drag a
 * criterion by its handle (mouse, touch, or keyboard: focus the handle,
 * Space to pick up, arrows to move, Space to drop) or use its move up / down
 * buttons. Each criterion has a name, rules, a rollout, and serves exactly
 * one of a variant or a split.
 */
export function CriteriaEditor({
  contexts,
  segments,
  variants,
  value,
  onChange,
  errors = [],
}: CriteriaEditorProps) {
  // Stable ids for the sortable list, kept in step with our own edits.
  const ids = useRef<string[]>([]);
  if (
    ids.current.length !== value.length ||
    value.some((c, i) => c.rowId !== undefined && c.rowId !== ids.current[i])
  ) {
    ids.current = value.map((c) => c.rowId ?? `new-${nextId++}`);
  }
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
  const own = validateCriteria(value, contexts, segments, variants);

  const move = (from: number, to: number) => {
    if (to < 0 || to >= value.length || from === to) return;
    ids.current = arrayMove(ids.current, from, to);
    onChange(arrayMove(value, from, to));
  };
  const update = (index: number, next: CriterionDraft) =>
    onChange(value.map((c, i) => (i === index ? next : c)));
  const remove = (index: number) => {
    ids.current = ids.current.filter((_, i) => i !== index);
    onChange(value.filter((_, i) => i !== index));
  };
  const add = () => {
    ids.current = [...ids.current, `new-${nextId++}`];
    onChange([
      ...value,
      {
        name: "",
        rules: [],
        rolloutBasisPoints: TOTAL_BASIS_POINTS,
        variant: variants[0]?.key ?? null,
        split: null,
      },
    ]);
  };
  const onDragEnd = ({ active, over }: DragEndEvent) => {
    if (over === null) return;
    move(ids.current.indexOf(String(active.id)), ids.current.indexOf(String(over.id)));
  };
  // Announcements name criteria by their place when the drag started.
  const dragStart = useRef<string[]>([]);
  const names = new Map(ids.current.map((id, i) => [id, value[i]?.name ?? ""]));
  const nameOf = (id: string | number) => {
    const i = dragStart.current.indexOf(String(id));
    const name = names.get(String(id));
    return `criterion ${i + 1}${name ? ` (${name})` : ""}`;
  };
  const positionOf = (id: string | number) => dragStart.current.indexOf(String(id)) + 1;

  return (
    <Box>
      <DndContext
        sensors={sensors}
        collisionDetection={closestCenter}
        onDragStart={() => {
          dragStart.current = [...ids.current];
        }}
        onDragEnd={onDragEnd}
        accessibility={{
          announcements: {
            onDragStart: ({ active }) => `Picked up ${nameOf(active.id)}.`,
            onDragOver: ({ active, over }) =>
              over ? `${cap(nameOf(active.id))} is over position ${positionOf(over.id)}.` : "",
            onDragEnd: ({ active, over }) =>
              over
                ? `${cap(nameOf(active.id))} was dropped at position ${positionOf(over.id)}.`
                : `${cap(nameOf(active.id))} was dropped.`,
            onDragCancel: ({ active }) => `Moving ${nameOf(active.id)} was cancelled.`,
          },
          screenReaderInstructions: {
            draggable:
              "To reorder, press Space, move with the arrow keys, and press Space again to drop or Escape to cancel.",
          },
        }}
      >
        <SortableContext items={ids.current} strategy={verticalListSortingStrategy}>
          <Stack spacing={2} component="ol" sx={{ listStyle: "none", p: 0, m: 0 }}>
            {value.map((criterion, index) => (
              <SortableCriterion
                key={ids.current[index]}
                id={ids.current[index]!}
                index={index}
                count={value.length}
                criterion={criterion}
                contexts={contexts}
                segments={segments}
                variants={variants}
                problems={[...own, ...errors].filter((e) => e.index === index)}
                onChange={(next) => update(index, next)}
                onMove={(to) => move(index, to)}
                onRemove={() => remove(index)}
              />
            ))}
          </Stack>
        </SortableContext>
      </DndContext>
      {value.length === 0 && (
        <Typography variant="body2" color="text.secondary">
          No criteria: the stage serves its default to everyone.
        </Typography>
      )}
      <Button sx={{ mt: 1 }} onClick={add} disabled={value.length >= 200}>
        Add criterion
      </Button>
    </Box>
  );
}

function SortableCriterion(props: {
  id: string;
  index: number;
  count: number;
  criterion: CriterionDraft;
  contexts: ContextDefinition[];
  segments: Array<{ key: string; name?: string | null }>;
  variants: Variant[];
  problems: CriterionError[];
  onChange: (next: CriterionDraft) => void;
  onMove: (to: number) => void;
  onRemove: () => void;
}) {
  const {
    id,
    index,
    count,
    criterion,
    contexts,
    segments,
    variants,
    problems,
    onChange,
    onMove,
    onRemove,
  } = props;
  const {
    attributes,
    listeners,
    setNodeRef,
    setActivatorNodeRef,
    transform,
    transition,
    isDragging,
  } = useSortable({
    id,
  });
  const n = index + 1;
  const serving = criterion.split !== null && criterion.split !== undefined ? "split" : "variant";
  const ruleErrors: RuleError[] = problems
    .filter((p) => p.path?.startsWith("rules"))
    .map((p) => ({ path: p.path!, message: p.message, ...(p.code ? { code: p.code } : {}) }));
  const other = problems.filter((p) => !p.path?.startsWith("rules"));
  const at = (path: string) => other.filter((p) => p.path === path).map((p) => p.message);
  const general = other.filter(
    (p) => !["variant", "split", "rolloutBasisPoints"].includes(p.path ?? ""),
  );
  const splitMessage = at("split").join(" ");
  const title = `Criterion ${n}${criterion.name ? `: ${criterion.name}` : ""}`;

  return (
    <Paper
      component="li"
      ref={setNodeRef}
      variant="outlined"
      aria-label={title}
      data-testid="criterion"
      sx={{
        p: 2,
        transform: CSS.Transform.toString(transform),
        transition,
        opacity: isDragging ? 0.6 : 1,
        position: "relative",
        zIndex: isDragging ? 1 : "auto",
      }}
    >
      <Stack direction="row" spacing={1} sx={{ alignItems: "center", mb: 2 }}>
        <Tooltip title="Drag to reorder (or focus and press Space)">
          <IconButton
            ref={setActivatorNodeRef}
            {...attributes}
            {...listeners}
            aria-label={`Reorder criterion ${n}`}
            sx={{
              cursor: "grab",
              "&:focus-visible": { outline: "2px solid", outlineColor: "primary.main" },
            }}
          >
            <span aria-hidden>⠿</span>
          </IconButton>
        </Tooltip>
        <Typography variant="subtitle1" sx={{ minWidth: 90 }}>
          Priority {n}
        </Typography>
        <TextField
          size="small"
          label={`Name of criterion ${n}`}
          value={criterion.name ?? ""}
          onChange={(event) => onChange({ ...criterion, name: event.target.value })}
          sx={{ flex: 1 }}
        />
        <Tooltip title="Move up">
          <span>
            <IconButton
              aria-label={`Move criterion ${n} up`}
              disabled={index === 0}
              onClick={() => onMove(index - 1)}
            >
              <span aria-hidden>↑</span>
            </IconButton>
          </span>
        </Tooltip>
        <Tooltip title="Move down">
          <span>
            <IconButton
              aria-label={`Move criterion ${n} down`}
              disabled={index === count - 1}
              onClick={() => onMove(index + 1)}
            >
              <span aria-hidden>↓</span>
            </IconButton>
          </span>
        </Tooltip>
        <Button color="error" size="small" onClick={onRemove}>
          Remove criterion {n}
        </Button>
      </Stack>

      <Typography variant="subtitle2" gutterBottom>
        When
      </Typography>
      <RuleBuilder
        contexts={contexts}
        segments={segments}
        value={criterion.rules}
        onChange={(rules) => onChange({ ...criterion, rules })}
        errors={ruleErrors}
      />

      <Box sx={{ mt: 2 }}>
        <RolloutSlider
          label={`Rollout of criterion ${n}`}
          value={criterion.rolloutBasisPoints}
          onChange={(rolloutBasisPoints) => onChange({ ...criterion, rolloutBasisPoints })}
        />
        {at("rolloutBasisPoints").map((m) => (
          <Typography key={m} color="error" variant="caption" component="p">
            {m}
          </Typography>
        ))}
      </Box>

      <FormControl sx={{ mt: 2, display: "block" }}>
        <FormLabel id={`${id}-serve`}>Criterion {n} serves</FormLabel>
        <RadioGroup
          row
          aria-labelledby={`${id}-serve`}
          value={serving}
          onChange={(event) =>
            onChange(
              event.target.value === "split"
                ? { ...criterion, variant: null, split: evenSplit(variants) }
                : {
                    ...criterion,
                    split: null,
                    variant:
                      criterion.split?.find((e) => e.weight > 0)?.variant ??
                      variants[0]?.key ??
                      null,
                  },
            )
          }
        >
          <FormControlLabel value="variant" control={<Radio />} label="One variant" />
          <FormControlLabel value="split" control={<Radio />} label="A split" />
        </RadioGroup>
      </FormControl>
      {serving === "variant" ? (
        <TextField
          select
          size="small"
          label={`Variant served by criterion ${n}`}
          value={variants.some((v) => v.key === criterion.variant) ? criterion.variant : ""}
          error={at("variant").length > 0}
          helperText={at("variant").join(" ") || undefined}
          onChange={(event) => onChange({ ...criterion, variant: event.target.value, split: null })}
          sx={{ minWidth: 240, mt: 1 }}
        >
          {variants.map((v) => (
            <MenuItem key={v.key} value={v.key}>
              {v.key} = {JSON.stringify(v.value)}
            </MenuItem>
          ))}
        </TextField>
      ) : (
        <Box sx={{ mt: 1 }}>
          <SplitEditor
            variants={variants}
            value={criterion.split ?? []}
            onChange={(split) => onChange({ ...criterion, variant: null, split })}
            {...(splitMessage ? { error: splitMessage } : {})}
          />
          {at("variant").map((m) => (
            <Alert key={m} severity="error" sx={{ mt: 1 }}>
              {m}
            </Alert>
          ))}
        </Box>
      )}
      {general.map((p) => (
        <Alert key={`${p.path}${p.message}`} severity="error" sx={{ mt: 1 }}>
          {p.message}
        </Alert>
      ))}
    </Paper>
  );
}
