import { Box, Typography } from "@mui/material";

import { blastRadiusOf, describeDependent, describeDiff, type DiffLine } from "./describeDiff.ts";

function Line({ line }: { line: DiffLine }) {
  if (line.kind === "changed") {
    return (
      <li>
        <strong>{line.subject}</strong> · {line.field}:{" "}
        <Box component="span" sx={{ textDecoration: "line-through", color: "text.secondary" }}>
          {line.before}
        </Box>{" "}
        →{" "}
        <Box component="span" sx={{ fontWeight: 600 }}>
          {line.after}
        </Box>
      </li>
    );
  }
  return (
    <li>
      <strong>{line.subject}</strong> {line.kind === "added" ? "added" : "removed"}: {line.summary}
    </li>
  );
}

/** A request's diff, before → after. */
export function DiffView({ diff, labelId }: { diff: unknown; labelId: string }) {
  const lines = describeDiff(diff);
  return (
    <section aria-labelledby={labelId}>
      <Typography id={labelId} variant="subtitle2" component="h3">
        Changes
      </Typography>
      {lines.length === 0 ? (
        <Typography variant="body2">No change recorded.</Typography>
      ) : (
        <Box component="ul" sx={{ m: 0, pl: 3, typography: "body2" }}>
          {lines.map((line, index) => (
            <Line key={index} line={line} />
          ))}
        </Box>
      )}
    </section>
  );
}

/** The flags that depend on this one, frozen when the request was made. */
export function BlastRadiusView({
  blastRadius,
  labelId,
}: {
  blastRadius: unknown;
  labelId: string;
}) {
  const entries = blastRadiusOf(blastRadius);
  return (
    <section aria-labelledby={labelId}>
      <Typography id={labelId} variant="subtitle2" component="h3">
        Blast radius
      </Typography>
      {entries.length === 0 ? (
        <Typography variant="body2">No other flag depends on this one.</Typography>
      ) : (
        <Box component="ul" sx={{ m: 0, pl: 3, typography: "body2" }}>
          {entries.map((entry) => (
            <li key={entry.id || entry.key}>{describeDependent(entry)}</li>
          ))}
        </Box>
      )}
    </section>
  );
}
