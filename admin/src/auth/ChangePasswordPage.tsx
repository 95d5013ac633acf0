import { Alert, Box, Button, Card, CardContent, TextField, Typography } from "@mui/material";
import { useLogout, useRedirect } from "ra-core";
import { type FormEvent, useState } from "react";

import { ApiError, describeError } from "../api/errors.ts";
import { changePassword, rememberedTemporaryPassword } from "./authProvider.ts";

type Field = "currentPassword" | "newPassword" | "confirmation";

function fieldOf(error: unknown): Field | undefined {
  if (!(error instanceof ApiError)) return undefined;
  if (error.code === "CREDS") return "currentPassword";
  if (error.code === "WEAKP") return "newPassword";
  return undefined;
}

/** "Choose a new password": the way out of a temporary password (and a plain password change). */
export function ChangePasswordPage() {
  const redirect = useRedirect();
  const logout = useLogout();
  const remembered = rememberedTemporaryPassword();
  const [current, setCurrent] = useState(remembered ?? "");
  const [next, setNext] = useState("");
  const [confirmation, setConfirmation] = useState("");
  const [error, setError] = useState<{ field?: Field; message: string }>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (next !== confirmation) {
      setError({ field: "confirmation", message: "The two new passwords are not the same." });
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await changePassword(current, next);
      redirect("/");
    } catch (caught) {
      setError({ field: fieldOf(caught), message: describeError(caught) });
    } finally {
      setBusy(false);
    }
  };

  const helper = (field: Field) => (error?.field === field ? error.message : undefined);
  return (
    <Box
      component="main"
      sx={{
        minHeight: "100vh",
        display: "grid",
        placeItems: "center",
        bgcolor: "background.default",
      }}
    >
      <Card sx={{ width: 420, maxWidth: "92vw" }}>
        <CardContent>
          <Typography component="h1" variant="h5" gutterBottom>
            Choose a new password
          </Typography>
          {remembered ? (
            <Typography variant="body2" color="text.secondary">
              Your password is temporary: choose your own to continue.
            </Typography>
          ) : null}
          <Box component="form" onSubmit={submit} noValidate aria-label="Choose a new password">
            {remembered ? null : (
              <TextField
                label="Current password"
                type="password"
                autoComplete="current-password"
                required
                fullWidth
                margin="normal"
                value={current}
                onChange={(e) => setCurrent(e.target.value)}
                error={!!helper("currentPassword")}
                helperText={helper("currentPassword")}
              />
            )}
            <TextField
              label="New password"
              type="password"
              autoComplete="new-password"
              autoFocus
              required
              fullWidth
              margin="normal"
              value={next}
              onChange={(e) => setNext(e.target.value)}
              error={!!helper("newPassword")}
              helperText={
                helper("newPassword") ?? "At least 12 characters, not containing your email."
              }
            />
            <TextField
              label="Confirm new password"
              type="password"
              autoComplete="new-password"
              required
              fullWidth
              margin="normal"
              value={confirmation}
              onChange={(e) => setConfirmation(e.target.value)}
              error={!!helper("confirmation")}
              helperText={helper("confirmation")}
            />
            {error && !error.field ? (
              <Alert severity="error" sx={{ mt: 1 }}>
                {error.message}
              </Alert>
            ) : null}
            <Box sx={{ display: "flex", gap: 1, mt: 2 }}>
              <Button type="submit" variant="contained" disabled={busy || !current || !next}>
                Change password
              </Button>
              <Button type="button" onClick={() => logout()}>
                Sign out
              </Button>
            </Box>
          </Box>
        </CardContent>
      </Card>
    </Box>
  );
}
