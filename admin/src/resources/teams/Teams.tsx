import { Button } from "@mui/material";
import {
  CheckboxGroupInput,
  Create,
  Datagrid,
  DateField,
  DeleteButton,
  EditButton,
  Labeled,
  List,
  ReferenceField,
  ReferenceInput,
  ReferenceManyField,
  required,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
  useRecordContext,
} from "react-admin";
import { Link } from "react-router-dom";

import { ChoiceArrayField } from "../common/ChoiceArrayField.tsx";
import { TEAM_ROLES } from "../common/choices.ts";
import { PessimisticEdit } from "../common/teamScoped.tsx";

export function TeamList() {
  return (
    <List sort={{ field: "slug", order: "ASC" }}>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" sortable={false} />
        <TextField source="slug" />
        <DateField source="createdAt" sortable={false} />
      </Datagrid>
    </List>
  );
}

export function TeamCreate() {
  return (
    <Create redirect="edit">
      <SimpleForm>
        <TextInput source="name" validate={required()} />
        <TextInput source="slug" validate={required()} helperText="URL-safe handle, unique." />
      </SimpleForm>
    </Create>
  );
}

/** "Add member" on a team's page, "Add to team" on a user's: a membership prefilled with the record. */
export function AddMembershipButton({ field }: { field: "teamId" | "userId" }) {
  const record = useRecordContext();
  if (!record) return null;
  return (
    <Button
      component={Link}
      to="/teamMemberships/create"
      state={{ record: { [field]: record.id, roles: ["viewer"] } }}
      variant="outlined"
    >
      {field === "teamId" ? "Add member" : "Add to team"}
    </Button>
  );
}

/** A team's members and their roles (also shown on a user's page, by user). */
export function Memberships({ target }: { target: "teamId" | "userId" }) {
  return (
    <Labeled label={target === "teamId" ? "Members" : "Teams"} fullWidth>
      <ReferenceManyField reference="teamMemberships" target={target}>
        <Datagrid bulkActionButtons={false} rowClick={false}>
          {target === "teamId" ? (
            <ReferenceField source="userId" reference="users" label="User" />
          ) : (
            <ReferenceField source="teamId" reference="teams" label="Team" />
          )}
          <ChoiceArrayField source="roles" choices={TEAM_ROLES} />
          <EditButton />
          <DeleteButton mutationMode="pessimistic" redirect={false} label="Remove" />
        </Datagrid>
      </ReferenceManyField>
    </Labeled>
  );
}

export function TeamEdit() {
  return (
    <PessimisticEdit>
      <SimpleForm>
        <TextInput source="name" validate={required()} />
        <TextField source="slug" />
        <Memberships target="teamId" />
        <AddMembershipButton field="teamId" />
      </SimpleForm>
    </PessimisticEdit>
  );
}

export function TeamMembershipCreate() {
  return (
    <Create redirect={(_r?: string, _id?: unknown, data?: any) => `teams/${data?.teamId}`}>
      <SimpleForm>
        <ReferenceInput source="teamId" reference="teams">
          <SelectInput label="Team" validate={required()} />
        </ReferenceInput>
        <ReferenceInput source="userId" reference="users">
          <SelectInput
            label="User"
            validate={required()}
            optionText={(u) => `${u.name} <${u.email}>`}
          />
        </ReferenceInput>
        <CheckboxGroupInput source="roles" choices={TEAM_ROLES} validate={required()} />
      </SimpleForm>
    </Create>
  );
}

export function TeamMembershipEdit() {
  return (
    <PessimisticEdit redirect={(_r?: string, _id?: unknown, data?: any) => `teams/${data?.teamId}`}>
      <SimpleForm>
        <ReferenceField source="teamId" reference="teams" />
        <ReferenceField source="userId" reference="users" />
        <CheckboxGroupInput source="roles" choices={TEAM_ROLES} validate={required()} />
      </SimpleForm>
    </PessimisticEdit>
  );
}
