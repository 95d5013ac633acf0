import { Datagrid, DateField, required, SimpleForm, TextField, TextInput } from "react-admin";

import { JsonInput } from "../common/JsonInput.tsx";
import { PessimisticEdit, TeamCreate, TeamList } from "../common/teamScoped.tsx";

export function SegmentList() {
  return (
    <TeamList sort={{ field: "key", order: "ASC" }}>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="key" />
        <TextField source="name" sortable={false} />
        <TextField source="description" sortable={false} />
        <DateField source="updatedAt" showTime sortable={false} />
      </Datagrid>
    </TeamList>
  );
}

function SegmentForm() {
  return (
    <SimpleForm>
      <TextInput source="key" validate={required()} />
      <TextInput source="name" validate={required()} />
      <TextInput source="description" multiline fullWidth />
      <JsonInput
        source="rules"
        minRows={8}
        helperText="Rule groups (OR'ed), in the form of a criterion's rules (docs/evaluation.md)."
      />
    </SimpleForm>
  );
}

export function SegmentCreate() {
  return (
    <TeamCreate>
      <SegmentForm />
    </TeamCreate>
  );
}

export function SegmentEdit() {
  return (
    <PessimisticEdit>
      <SegmentForm />
    </PessimisticEdit>
  );
}
