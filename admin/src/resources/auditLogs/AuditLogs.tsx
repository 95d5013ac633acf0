import { Alert, CircularProgress } from "@mui/material";
import { useQuery } from "@tanstack/react-query";
import {
  Datagrid,
  DateField,
  Labeled,
  ReferenceField,
  Show,
  SimpleShowLayout,
  TextField,
  TextInput,
  useRecordContext,
} from "react-admin";

import { describeError } from "../../api/errors.ts";
import { verifyAuditChain } from "../../dataProvider/actions.ts";
import { useTeam } from "../../layout/TeamContext.tsx";
import { TeamList } from "../common/teamScoped.tsx";

/** The hash chain's state, for system administrators (the only ones who may verify it). */
export function AuditChainStatus() {
  const { permissions } = useTeam();
  const isAdmin = !!permissions?.isAdmin;
  const { data, error, isPending } = useQuery({
    queryKey: ["verifyAuditChain"],
    queryFn: verifyAuditChain,
    enabled: isAdmin,
    staleTime: 60_000,
  });
  if (!isAdmin) return null;
  if (isPending) {
    return (
      <Alert severity="info" icon={<CircularProgress size={18} />} sx={{ mb: 1 }} role="status">
        Verifying the audit chain…
      </Alert>
    );
  }
  if (error) {
    return (
      <Alert severity="warning" sx={{ mb: 1 }} role="status">
        The audit chain could not be verified: {describeError(error)}
      </Alert>
    );
  }
  return data?.ok ? (
    <Alert severity="success" sx={{ mb: 1 }} role="status">
      Audit chain verified: {data.checked} entries, every hash and link intact.
    </Alert>
  ) : (
    <Alert severity="error" sx={{ mb: 1 }} role="status">
      Audit chain broken at entry {data?.firstBadId} ({data?.checked} checked): the log was altered.
    </Alert>
  );
}

const filters = [
  <TextInput key="tableName" source="tableName" label="Table" alwaysOn />,
  <TextInput key="recordId" source="recordId" label="Record id" alwaysOn />,
];

export function AuditLogList() {
  return (
    <>
      <TeamList sort={{ field: "rowId", order: "DESC" }} filters={filters} title="Audit log">
        <AuditChainStatus />
        <Datagrid rowClick="show" bulkActionButtons={false}>
          <TextField source="rowId" label="#" />
          <DateField source="createdAt" label="When" showTime sortable={false} />
          <TextField source="tableName" label="Table" />
          <TextField source="action" sortable={false} />
          <TextField source="recordId" label="Record" />
          <ReferenceField
            source="actorId"
            reference="users"
            label="By"
            emptyText="system"
            link={false}
          />
          <TextField source="actorJob" label="Job" sortable={false} />
        </Datagrid>
      </TeamList>
    </>
  );
}

function Json({ source }: { source: string }) {
  const record = useRecordContext();
  const value = record?.[source];
  return (
    <Labeled label={source === "before" ? "Before" : "After"}>
      <pre style={{ margin: 0, whiteSpace: "pre-wrap" }}>
        {value == null ? "—" : JSON.stringify(value, null, 2)}
      </pre>
    </Labeled>
  );
}

export function AuditLogShow() {
  return (
    <Show>
      <SimpleShowLayout>
        <TextField source="rowId" label="#" />
        <DateField source="createdAt" showTime />
        <TextField source="tableName" label="Table" />
        <TextField source="action" />
        <TextField source="recordId" label="Record" />
        <ReferenceField
          source="actorId"
          reference="users"
          label="By"
          emptyText="system"
          link={false}
        />
        <TextField source="actorJob" label="Job" />
        <Json source="before" />
        <Json source="after" />
        <TextField source="hash" />
        <TextField source="prevHash" label="Previous hash" />
      </SimpleShowLayout>
    </Show>
  );
}
