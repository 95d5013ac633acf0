import {
  Datagrid,
  DateField,
  NumberField,
  NumberInput,
  required,
  SelectField,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
} from "react-admin";

import { ENVIRONMENT_TYPES } from "../common/choices.ts";
import { PessimisticEdit, TeamCreate, TeamList } from "../common/teamScoped.tsx";

export function EnvironmentList() {
  return (
    <TeamList sort={{ field: "position", order: "ASC" }}>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <NumberField source="position" />
        <TextField source="name" sortable={false} />
        <TextField source="key" />
        <SelectField source="type" choices={ENVIRONMENT_TYPES} sortable={false} />
        <DateField source="updatedAt" showTime sortable={false} />
      </Datagrid>
    </TeamList>
  );
}

function EnvironmentForm() {
  return (
    <SimpleForm>
      <TextInput source="name" validate={required()} />
      <TextInput
        source="key"
        validate={required()}
        helperText="Lowercase letters, digits and dashes; unique in the team."
      />
      <SelectInput source="type" choices={ENVIRONMENT_TYPES} validate={required()} />
      <NumberInput source="position" helperText="Order in pipelines and lists." />
    </SimpleForm>
  );
}

export function EnvironmentCreate() {
  return (
    <TeamCreate>
      <EnvironmentForm />
    </TeamCreate>
  );
}

export function EnvironmentEdit() {
  return (
    <PessimisticEdit>
      <EnvironmentForm />
    </PessimisticEdit>
  );
}
