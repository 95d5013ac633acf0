import {
  Datagrid,
  DateField,
  DateTimeInput,
  ReferenceField,
  required,
  SelectField,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
} from "react-admin";

import { ENVIRONMENT_TYPES, RECURRENCES } from "../common/choices.ts";
import {
  PessimisticEdit,
  TeamCreate,
  TeamList,
  TeamReferenceInput,
} from "../common/teamScoped.tsx";

export function FreezeWindowList() {
  return (
    <TeamList>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" sortable={false} />
        <DateField source="startsAt" showTime sortable={false} />
        <DateField source="endsAt" showTime sortable={false} />
        <SelectField source="recurrence" choices={RECURRENCES} sortable={false} />
        <TextField source="timeZone" sortable={false} />
        <ReferenceField
          source="environmentId"
          reference="environments"
          label="Environment"
          emptyText="—"
        />
        <SelectField
          source="environmentType"
          choices={ENVIRONMENT_TYPES}
          label="Environment type"
          sortable={false}
          emptyText="—"
        />
      </Datagrid>
    </TeamList>
  );
}

const browserTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

function FreezeWindowForm() {
  return (
    <SimpleForm>
      <TextInput source="name" validate={required()} />
      <DateTimeInput source="startsAt" label="Starts at" validate={required()} />
      <DateTimeInput source="endsAt" label="Ends at" validate={required()} />
      <SelectInput source="recurrence" choices={RECURRENCES} defaultValue="none" />
      <DateTimeInput source="repeatUntil" label="Repeat until" />
      <TextInput
        source="timeZone"
        label="Time zone"
        defaultValue={browserTimeZone()}
        helperText="An IANA name, e.g. Europe/Paris."
      />
      <TeamReferenceInput source="environmentId" reference="environments">
        <SelectInput label="Environment" emptyText="(all, or by type)" />
      </TeamReferenceInput>
      <SelectInput
        source="environmentType"
        label="Environment type"
        choices={ENVIRONMENT_TYPES}
        emptyText="(any)"
      />
    </SimpleForm>
  );
}

export function FreezeWindowCreate() {
  return (
    <TeamCreate>
      <FreezeWindowForm />
    </TeamCreate>
  );
}

export function FreezeWindowEdit() {
  return (
    <PessimisticEdit>
      <FreezeWindowForm />
    </PessimisticEdit>
  );
}
