import ContentCopy from "@mui/icons-material/ContentCopy";
import {
  Alert,
  Box,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  IconButton,
  TextField,
  Tooltip,
} from "@mui/material";
import { useId, useState } from "react";

/**
 * Shows a secret once (a client secret, an API token, a temporary password)
 * with a copy button; closing the dialog forgets it.
 */
export function SecretDialog({
  title,
  label,
  secret,
  onClose,
}: {
  title: string;
  label: string;
  secret: string | undefined;
  onClose: () => void;
}) {
  const [copied, setCopied] = useState(false);
  const descriptionId = useId();
  const copy = async () => {
    if (!secret) return;
    await navigator.clipboard.writeText(secret);
    setCopied(true);
  };
  return (
    <Dialog open={!!secret} onClose={onClose} aria-describedby={descriptionId} fullWidth>
      <DialogTitle>{title}</DialogTitle>
      <DialogContent>
        <Alert severity="warning" id={descriptionId} sx={{ mb: 2 }}>
          Store it now: it is shown only once.
        </Alert>
        <Box sx={{ display: "flex", alignItems: "center", gap: 1 }}>
          <TextField
            label={label}
            value={secret ?? ""}
            fullWidth
            slotProps={{ input: { readOnly: true, sx: { fontFamily: "monospace" } } }}
            onFocus={(event) => event.target.select()}
          />
          <Tooltip title={copied ? "Copied" : "Copy"}>
            <IconButton aria-label={`Copy ${label.toLowerCase()}`} onClick={copy}>
              <ContentCopy />
            </IconButton>
          </Tooltip>
        </Box>
      </DialogContent>
      <DialogActions>
        <Button
          onClick={() => {
            setCopied(false);
            onClose();
          }}
          variant="contained"
        >
          Done
        </Button>
      </DialogActions>
    </Dialog>
  );
}
