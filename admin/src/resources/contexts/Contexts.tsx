import {
  Datagrid,
  required,
  SelectField,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
} from "react-admin";

import { CONTEXT_TYPES } from "../common/choices.ts";
import { JsonInput } from "../common/JsonInput.tsx";
import { PessimisticEdit, TeamCreate, TeamList } from "../common/teamScoped.tsx";

export function ContextList() {
  return (
    <TeamList sort={{ field: "key", order: "ASC" }}>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="key" />
        <TextField source="name" sortable={false} />
        <SelectField source="type" choices={CONTEXT_TYPES} sortable={false} />
        <TextField source="description" sortable={false} />
      </Datagrid>
    </TeamList>
  );
}

function ContextForm() {
  return (
    <SimpleForm>
      <TextInput
        source="key"
        validate={required()}
        helperText="The attribute name applications send (targetingKey is built in)."
      />
      <TextInput source="name" validate={required()} />
      <SelectInput source="type" choices={CONTEXT_TYPES} validate={required()} />
      <TextInput source="description" multiline fullWidth />
      <JsonInput
        source="allowedValues"
        label="Allowed values"
        helperText='Empty for any value, or a JSON array such as ["gold", "silver"].'
      />
    </SimpleForm>
  );
}

export function ContextCreate() {
  return (
    <TeamCreate>
      <ContextForm />
    </TeamCreate>
  );
}

export function ContextEdit() {
  return (
    <PessimisticEdit>
      <ContextForm />
    </PessimisticEdit>
  );
}
