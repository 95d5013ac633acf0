import { Box, Button, TextField as MuiTextField } from "@mui/material";
import { useState } from "react";
import {
  Datagrid,
  DateField,
  ReferenceField,
  TextField,
  useNotify,
  useRecordContext,
  useRefresh,
} from "react-admin";

import { describeError } from "../../api/errors.ts";
import { cancelScheduledChange, rescheduleChange } from "../../dataProvider/actions.ts";
import { TeamList } from "../common/teamScoped.tsx";

/** `2026-12-01T15:30` (what a datetime-local input holds) in local time. */
function localInput(iso: string): string {
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function ChangeActions() {
  const change = useRecordContext();
  const notify = useNotify();
  const refresh = useRefresh();
  const [runAt, setRunAt] = useState<string>();
  if (!change || change.status !== "scheduled") return null;
  const run = async (action: () => Promise<unknown>, done: string) => {
    try {
      await action();
      notify(done, { type: "success" });
      setRunAt(undefined);
      refresh();
    } catch (error) {
      notify(describeError(error), { type: "error" });
    }
  };
  return (
    <Box
      sx={{ display: "flex", gap: 1, alignItems: "center" }}
      onClick={(e) => e.stopPropagation()}
    >
      {runAt === undefined ? (
        <Button size="small" onClick={() => setRunAt(localInput(String(change.runAt)))}>
          Reschedule
        </Button>
      ) : (
        <>
          <MuiTextField
            size="small"
            type="datetime-local"
            label="New time"
            value={runAt}
            onChange={(e) => setRunAt(e.target.value)}
            slotProps={{ inputLabel: { shrink: true } }}
          />
          <Button
            size="small"
            variant="contained"
            disabled={!runAt}
            onClick={() =>
              run(
                () => rescheduleChange(String(change.id), new Date(runAt).toISOString()),
                "Rescheduled.",
              )
            }
          >
            Save time
          </Button>
        </>
      )}
      <Button
        size="small"
        color="error"
        onClick={() =>
          window.confirm("Cancel this scheduled change?") &&
          run(() => cancelScheduledChange(String(change.id)), "Cancelled.")
        }
      >
        Cancel change
      </Button>
    </Box>
  );
}

export function ScheduledChangeList() {
  return (
    <TeamList sort={{ field: "runAt", order: "DESC" }}>
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <DateField source="runAt" label="Runs at" showTime />
        <TextField source="action" sortable={false} />
        <ReferenceField source="featureId" reference="features" label="Feature" link={false}>
          <TextField source="key" />
        </ReferenceField>
        <TextField source="status" sortable={false} />
        <TextField source="reason" sortable={false} />
        <DateField source="executedAt" label="Executed" showTime sortable={false} />
        <TextField source="error" sortable={false} />
        <ChangeActions />
      </Datagrid>
    </TeamList>
  );
}
