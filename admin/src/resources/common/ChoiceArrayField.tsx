import { Chip, Stack } from "@mui/material";
import { useRecordContext } from "react-admin";

/** A list of enum values (roles, scopes) as chips with their labels. */
export function ChoiceArrayField({
  source,
  choices,
}: {
  source: string;
  choices: Array<{ id: string; name: string }>;
  label?: string;
  sortable?: boolean;
}) {
  const record = useRecordContext();
  const values = (record?.[source] as string[] | undefined) ?? [];
  return (
    <Stack direction="row" spacing={0.5} useFlexGap sx={{ flexWrap: "wrap" }}>
      {values.map((value) => (
        <Chip key={value} size="small" label={choices.find((c) => c.id === value)?.name ?? value} />
      ))}
    </Stack>
  );
}
