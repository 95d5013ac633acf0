import { Alert } from "@mui/material";
import type { ReactNode } from "react";
import {
  Create,
  type CreateProps,
  Edit,
  type EditProps,
  List,
  type ListProps,
  ReferenceArrayInput,
  type ReferenceArrayInputProps,
  ReferenceInput,
  type ReferenceInputProps,
} from "react-admin";

import { useTeam } from "../../layout/TeamContext.tsx";

function NoTeam() {
  return (
    <Alert severity="info" sx={{ m: 2 }}>
      You are not a member of any team yet: ask a team administrator to add you.
    </Alert>
  );
}

/** A list of the chosen team's records (`teamId` condition). */
export function TeamList({ children, filter, ...props }: ListProps & { children: ReactNode }) {
  const { teamId, isPending } = useTeam();
  if (isPending) return null;
  if (!teamId) return <NoTeam />;
  return (
    <List {...props} filter={{ ...filter, teamId }} queryOptions={{ enabled: !!teamId }}>
      {children}
    </List>
  );
}

/** A create form whose record belongs to the chosen team. */
export function TeamCreate({
  children,
  transform,
  ...props
}: CreateProps & { children: ReactNode }) {
  const { teamId } = useTeam();
  if (!teamId) return <NoTeam />;
  return (
    <Create
      redirect="list"
      {...props}
      transform={async (data: Record<string, unknown>) => {
        const own = { ...data, teamId };
        return transform ? transform(own) : own;
      }}
    >
      {children}
    </Create>
  );
}

/** An edit form that waits for the server (its refusals show next to their field). */
export function PessimisticEdit({ children, ...props }: EditProps & { children: ReactNode }) {
  return (
    <Edit mutationMode="pessimistic" redirect="list" {...props}>
      {children}
    </Edit>
  );
}

/** A reference input offering the chosen team's records only. */
export function TeamReferenceInput({
  filter,
  ...props
}: ReferenceInputProps & { children?: ReactNode }) {
  const { teamId } = useTeam();
  return <ReferenceInput {...props} filter={{ ...filter, teamId }} />;
}

/** A reference array input offering the chosen team's records only. */
export function TeamReferenceArrayInput({
  filter,
  ...props
}: ReferenceArrayInputProps & { children?: ReactNode }) {
  const { teamId } = useTeam();
  return <ReferenceArrayInput {...props} filter={{ ...filter, teamId }} />;
}
