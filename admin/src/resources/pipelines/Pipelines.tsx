import { Button } from "@mui/material";
import {
  Datagrid,
  DateField,
  DeleteButton,
  EditButton,
  Labeled,
  NumberField,
  NumberInput,
  ReferenceField,
  ReferenceManyField,
  required,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
  useRecordContext,
} from "react-admin";
import { Link } from "react-router-dom";

import {
  PessimisticEdit,
  TeamCreate,
  TeamList,
  TeamReferenceInput,
} from "../common/teamScoped.tsx";

export function PipelineList() {
  return (
    <TeamList sort={{ field: "name", order: "ASC" }}>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" />
        <TextField source="description" sortable={false} />
        <DateField source="updatedAt" showTime sortable={false} />
      </Datagrid>
    </TeamList>
  );
}

function PipelineFields() {
  return (
    <>
      <TextInput source="name" validate={required()} />
      <TextInput source="description" multiline fullWidth />
    </>
  );
}

export function PipelineCreate() {
  return (
    <TeamCreate redirect="edit">
      <SimpleForm>
        <PipelineFields />
      </SimpleForm>
    </TeamCreate>
  );
}

function AddStageButton() {
  const pipeline = useRecordContext();
  if (!pipeline) return null;
  return (
    <Button
      component={Link}
      to="/pipelineStages/create"
      state={{ record: { pipelineId: pipeline.id } }}
      variant="outlined"
    >
      Add stage
    </Button>
  );
}

export function PipelineEdit() {
  return (
    <PessimisticEdit>
      <SimpleForm>
        <PipelineFields />
        <Labeled label="Stages" fullWidth>
          <ReferenceManyField
            reference="pipelineStages"
            target="pipelineId"
            sort={{ field: "id", order: "ASC" }}
          >
            <Datagrid bulkActionButtons={false} rowClick={false}>
              <NumberField source="position" />
              <ReferenceField source="environmentId" reference="environments" label="Environment" />
              <ReferenceField
                source="parentStageId"
                reference="pipelineStages"
                label="Follows"
                emptyText="(root)"
                link={false}
              >
                <ReferenceField source="environmentId" reference="environments" />
              </ReferenceField>
              <EditButton />
              <DeleteButton mutationMode="pessimistic" redirect={false} />
            </Datagrid>
          </ReferenceManyField>
        </Labeled>
        <AddStageButton />
      </SimpleForm>
    </PessimisticEdit>
  );
}

function StageFields() {
  const stage = useRecordContext();
  const pipelineId = stage?.pipelineId as string | undefined;
  return (
    <>
      <TeamReferenceInput
        source="parentStageId"
        reference="pipelineStages"
        filter={pipelineId ? { pipelineId } : {}}
      >
        <SelectInput
          label="Follows stage"
          optionText={(stage) => `Stage ${stage.position}`}
          emptyText="(root: no parent)"
        />
      </TeamReferenceInput>
      <NumberInput source="position" />
    </>
  );
}

export function PipelineStageCreate() {
  return (
    <TeamCreate
      redirect={(_r?: string, _id?: unknown, data?: any) => `pipelines/${data?.pipelineId}`}
    >
      <SimpleForm>
        <TeamReferenceInput source="pipelineId" reference="pipelines">
          <SelectInput label="Pipeline" validate={required()} />
        </TeamReferenceInput>
        <TeamReferenceInput source="environmentId" reference="environments">
          <SelectInput label="Environment" validate={required()} />
        </TeamReferenceInput>
        <StageFields />
      </SimpleForm>
    </TeamCreate>
  );
}

export function PipelineStageEdit() {
  return (
    <PessimisticEdit
      redirect={(_r?: string, _id?: unknown, data?: any) => `pipelines/${data?.pipelineId}`}
    >
      <SimpleForm>
        <ReferenceField source="pipelineId" reference="pipelines" />
        <ReferenceField source="environmentId" reference="environments" />
        <StageFields />
      </SimpleForm>
    </PessimisticEdit>
  );
}
