import { FormControl, InputLabel, MenuItem, Select } from "@mui/material";
import { useId } from "react";

import { useTeam } from "./TeamContext.tsx";

/** The app bar's "Team" select: the teams the user belongs to (all of them for system administrators). */
export function TeamSwitcher() {
  const { teams, teamId, setTeamId } = useTeam();
  const labelId = useId();
  if (teams.length === 0) return null;
  return (
    <FormControl size="small" sx={{ width: 220, flex: "0 0 auto", mx: 1 }} variant="outlined">
      <InputLabel id={labelId} sx={{ color: "inherit" }}>
        Team
      </InputLabel>
      <Select
        labelId={labelId}
        label="Team"
        value={teamId ?? ""}
        onChange={(event) => setTeamId(String(event.target.value))}
        sx={{
          color: "inherit",
          ".MuiOutlinedInput-notchedOutline": { borderColor: "currentColor" },
        }}
      >
        {teams.map((team) => (
          <MenuItem key={team.id} value={team.id}>
            {team.name}
          </MenuItem>
        ))}
      </Select>
    </FormControl>
  );
}
