import { Button } from "@mui/material";
import { useState } from "react";
import {
  BooleanField,
  BooleanInput,
  ChipField,
  Datagrid,
  DateField,
  ReferenceField,
  required,
  SelectField,
  SelectInput,
  SimpleForm,
  TextArrayInput,
  TextField,
  TextInput,
  useNotify,
  useRecordContext,
  useRedirect,
  useRefresh,
} from "react-admin";

import { describeError } from "../../api/errors.ts";
import { rotateClientSecret } from "../../dataProvider/actions.ts";
import { CLIENT_KINDS } from "../common/choices.ts";
import { SecretDialog } from "../common/SecretDialog.tsx";
import {
  PessimisticEdit,
  TeamCreate,
  TeamList,
  TeamReferenceInput,
} from "../common/teamScoped.tsx";

export function ClientList() {
  return (
    <TeamList>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" sortable={false} />
        <SelectField source="kind" choices={CLIENT_KINDS} sortable={false} />
        <ReferenceField source="environmentId" reference="environments" label="Environment" />
        <ChipField source="keyPrefix" label="Key prefix" sortable={false} />
        <BooleanField source="enabled" sortable={false} />
        <DateField source="lastUsedAt" label="Last used" showTime sortable={false} />
      </Datagrid>
    </TeamList>
  );
}

export function ClientCreate() {
  const redirect = useRedirect();
  const [secret, setSecret] = useState<string>();
  return (
    <>
      <TeamCreate
        mutationOptions={{
          onSuccess: (data: { secret?: string }) => setSecret(data.secret),
        }}
      >
        <SimpleForm>
          <TextInput source="name" validate={required()} />
          <SelectInput source="kind" choices={CLIENT_KINDS} validate={required()} />
          <TeamReferenceInput source="environmentId" reference="environments">
            <SelectInput label="Environment" validate={required()} />
          </TeamReferenceInput>
          <TextArrayInput
            source="allowedOrigins"
            label="Allowed origins"
            helperText="Web clients: the origins browsers call from (scheme://host[:port])."
          />
        </SimpleForm>
      </TeamCreate>
      <SecretDialog
        title="Client created"
        label="Client secret"
        secret={secret}
        onClose={() => {
          setSecret(undefined);
          redirect("list", "clients");
        }}
      />
    </>
  );
}

function RotateSecretButton() {
  const client = useRecordContext();
  const notify = useNotify();
  const refresh = useRefresh();
  const [secret, setSecret] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (!client) return null;
  const rotate = async () => {
    if (!window.confirm(`Rotate the secret of ${client.name}? The current secret stops working.`)) {
      return;
    }
    setBusy(true);
    try {
      setSecret(await rotateClientSecret(String(client.id)));
    } catch (error) {
      notify(describeError(error), { type: "error" });
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button variant="outlined" color="warning" onClick={rotate} disabled={busy}>
        Rotate secret
      </Button>
      <SecretDialog
        title="New client secret"
        label="Client secret"
        secret={secret}
        onClose={() => {
          setSecret(undefined);
          refresh();
        }}
      />
    </>
  );
}

export function ClientEdit() {
  return (
    <PessimisticEdit>
      <SimpleForm>
        <TextInput source="name" validate={required()} />
        <BooleanInput source="enabled" />
        <TextArrayInput source="allowedOrigins" label="Allowed origins" />
        <ReferenceField source="environmentId" reference="environments" label="Environment" />
        <TextField source="keyPrefix" label="Key prefix" />
        <RotateSecretButton />
      </SimpleForm>
    </PessimisticEdit>
  );
}
