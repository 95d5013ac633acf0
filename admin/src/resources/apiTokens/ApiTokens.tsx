import { Button } from "@mui/material";
import { useState } from "react";
import {
  CheckboxGroupInput,
  Datagrid,
  DateField,
  DateTimeInput,
  required,
  SimpleForm,
  TextField,
  TextInput,
  useNotify,
  useRecordContext,
  useRedirect,
  useRefresh,
} from "react-admin";

import { describeError } from "../../api/errors.ts";
import { revokeApiToken } from "../../dataProvider/actions.ts";
import { ChoiceArrayField } from "../common/ChoiceArrayField.tsx";
import { API_TOKEN_SCOPES } from "../common/choices.ts";
import { SecretDialog } from "../common/SecretDialog.tsx";
import { TeamCreate, TeamList } from "../common/teamScoped.tsx";

function RevokeButton() {
  const token = useRecordContext();
  const notify = useNotify();
  const refresh = useRefresh();
  if (!token || token.revokedAt) return null;
  const revoke = async (event: React.MouseEvent) => {
    event.stopPropagation();
    if (
      !window.confirm(`Revoke the API token ${token.name}? Callers using it are refused at once.`)
    ) {
      return;
    }
    try {
      await revokeApiToken(String(token.id));
      notify(`Revoked ${token.name}.`, { type: "success" });
      refresh();
    } catch (error) {
      notify(describeError(error), { type: "error" });
    }
  };
  return (
    <Button size="small" color="error" onClick={revoke}>
      Revoke
    </Button>
  );
}

export function ApiTokenList() {
  return (
    <TeamList>
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <TextField source="name" sortable={false} />
        <TextField source="tokenPrefix" label="Prefix" sortable={false} />
        <ChoiceArrayField source="scopes" choices={API_TOKEN_SCOPES} sortable={false} />
        <DateField source="expiresAt" label="Expires" showTime sortable={false} emptyText="never" />
        <DateField source="lastUsedAt" label="Last used" showTime sortable={false} />
        <DateField source="revokedAt" label="Revoked" showTime sortable={false} />
        <RevokeButton />
      </Datagrid>
    </TeamList>
  );
}

export function ApiTokenCreate() {
  const redirect = useRedirect();
  const [secret, setSecret] = useState<string>();
  return (
    <>
      <TeamCreate
        mutationOptions={{ onSuccess: (data: { secret?: string }) => setSecret(data.secret) }}
      >
        <SimpleForm>
          <TextInput source="name" validate={required()} />
          <CheckboxGroupInput source="scopes" choices={API_TOKEN_SCOPES} validate={required()} />
          <DateTimeInput source="expiresAt" label="Expires at" helperText="Empty: never expires." />
        </SimpleForm>
      </TeamCreate>
      <SecretDialog
        title="API token created"
        label="API token"
        secret={secret}
        onClose={() => {
          setSecret(undefined);
          redirect("list", "apiTokens");
        }}
      />
    </>
  );
}
