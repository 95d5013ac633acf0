import { Button } from "@mui/material";
import { useState } from "react";
import {
  BooleanField,
  BooleanInput,
  Create,
  Datagrid,
  DateField,
  EmailField,
  List,
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
import { resetUserPassword } from "../../dataProvider/actions.ts";
import { SecretDialog } from "../common/SecretDialog.tsx";
import { PessimisticEdit } from "../common/teamScoped.tsx";
import { AddMembershipButton, Memberships } from "../teams/Teams.tsx";

export function UserList() {
  return (
    <List>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" sortable={false} />
        <EmailField source="email" sortable={false} />
        <BooleanField source="isAdmin" label="System admin" sortable={false} />
        <BooleanField source="isEnabled" label="Enabled" sortable={false} />
        <BooleanField source="mustResetPassword" label="Temporary password" sortable={false} />
        <DateField source="createdAt" sortable={false} />
      </Datagrid>
    </List>
  );
}

export function UserCreate() {
  const redirect = useRedirect();
  const [created, setCreated] = useState<{ id: string; temporaryPassword?: string }>();
  return (
    <>
      <Create mutationOptions={{ onSuccess: (data: any) => setCreated(data) }}>
        <SimpleForm>
          <TextInput source="email" type="email" validate={required()} />
          <TextInput source="name" validate={required()} />
          <BooleanInput source="isAdmin" label="System administrator" />
        </SimpleForm>
      </Create>
      <SecretDialog
        title="User created"
        label="Temporary password"
        secret={created?.temporaryPassword}
        onClose={() => {
          const id = created?.id;
          setCreated(undefined);
          redirect("edit", "users", id);
        }}
      />
    </>
  );
}

function ResetPasswordButton() {
  const user = useRecordContext();
  const notify = useNotify();
  const refresh = useRefresh();
  const [password, setPassword] = useState<string>();
  if (!user) return null;
  const reset = async () => {
    if (!window.confirm(`Give ${user.email} a new temporary password? Their sessions end.`)) return;
    try {
      setPassword(await resetUserPassword(String(user.id)));
    } catch (error) {
      notify(describeError(error), { type: "error" });
    }
  };
  return (
    <>
      <Button variant="outlined" color="warning" onClick={reset}>
        Reset password
      </Button>
      <SecretDialog
        title={`Temporary password for ${user.email}`}
        label="Temporary password"
        secret={password}
        onClose={() => {
          setPassword(undefined);
          refresh();
        }}
      />
    </>
  );
}

export function UserEdit() {
  return (
    <PessimisticEdit>
      <SimpleForm>
        <TextField source="email" />
        <TextInput source="name" validate={required()} />
        <BooleanInput source="isAdmin" label="System administrator" />
        <BooleanInput
          source="isEnabled"
          label="Enabled"
          helperText="Disabling ends the user's sessions for good."
        />
        <ResetPasswordButton />
        <Memberships target="userId" />
        <AddMembershipButton field="userId" />
      </SimpleForm>
    </PessimisticEdit>
  );
}
