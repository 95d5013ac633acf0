import {
  BooleanField,
  BooleanInput,
  CheckboxGroupInput,
  Datagrid,
  FormDataConsumer,
  NumberField,
  NumberInput,
  required,
  SelectArrayInput,
  SelectField,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
} from "react-admin";

import { ChoiceArrayField } from "../common/ChoiceArrayField.tsx";
import { APPROVAL_SCOPES, TEAM_ROLES } from "../common/choices.ts";
import {
  PessimisticEdit,
  TeamCreate,
  TeamList,
  TeamReferenceArrayInput,
} from "../common/teamScoped.tsx";

export function ApprovalPolicyList() {
  return (
    <TeamList>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" sortable={false} />
        <SelectField source="scope" choices={APPROVAL_SCOPES} sortable={false} />
        <NumberField source="requiredApprovals" label="Approvals" sortable={false} />
        <ChoiceArrayField source="eligibleRoles" choices={TEAM_ROLES} sortable={false} />
        <NumberField source="autoApproveAfterHours" label="Auto-approve (h)" sortable={false} />
        <BooleanField source="allowAdminOverride" label="Admin override" sortable={false} />
        <BooleanField source="enabled" sortable={false} />
      </Datagrid>
    </TeamList>
  );
}

function ApprovalPolicyForm() {
  return (
    <SimpleForm>
      <TextInput source="name" validate={required()} />
      <SelectInput source="scope" choices={APPROVAL_SCOPES} validate={required()} />
      <FormDataConsumer>
        {({ formData }) =>
          formData.scope === "listed" ? (
            <TeamReferenceArrayInput source="environmentIds" reference="environments">
              <SelectArrayInput label="Environments" />
            </TeamReferenceArrayInput>
          ) : null
        }
      </FormDataConsumer>
      <NumberInput source="requiredApprovals" label="Required approvals" min={1} />
      <CheckboxGroupInput source="eligibleRoles" label="Eligible roles" choices={TEAM_ROLES} />
      <NumberInput
        source="autoApproveAfterHours"
        label="Auto-approve after (hours)"
        helperText="Empty: never. 1 to 8760."
      />
      <BooleanInput source="allowAdminOverride" label="Team admins may override" />
      <BooleanInput source="enabled" defaultValue />
    </SimpleForm>
  );
}

export function ApprovalPolicyCreate() {
  return (
    <TeamCreate>
      <ApprovalPolicyForm />
    </TeamCreate>
  );
}

export function ApprovalPolicyEdit() {
  return (
    <PessimisticEdit>
      <ApprovalPolicyForm />
    </PessimisticEdit>
  );
}
