import { Alert, Box, Button, Card, CardContent, TextField, Typography } from "@mui/material";
import { useLogin } from "ra-core";
import { type FormEvent, useState } from "react";

import { ApiError, describeError } from "../api/errors.ts";

/** Which input an error concerns: a lockout is about the account, wrong credentials about the password. */
function fieldOf(error: unknown): "email" | "password" | undefined {
  if (!(error instanceof ApiError)) return undefined;
  if (error.code === "LOCKD") return "email";
  if (error.code === "CREDS") return "password";
  return undefined;
}

/** The login page: "Email", "Password", "Sign in"; errors as sentences next to their field. */
export function LoginPage() {
  const login = useLogin();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login({ email: email.trim(), password });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const field = error ? fieldOf(error) : undefined;
  const message = error ? describeError(error) : undefined;
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
      <Card sx={{ width: 380, maxWidth: "92vw" }}>
        <CardContent>
          <Typography component="h1" variant="h5" gutterBottom>
            FluxGate
          </Typography>
          <Box component="form" onSubmit={submit} noValidate aria-label="Sign in">
            <TextField
              label="Email"
              type="email"
              name="email"
              autoComplete="username"
              autoFocus
              required
              fullWidth
              margin="normal"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              error={field === "email"}
              helperText={field === "email" ? message : undefined}
            />
            <TextField
              label="Password"
              type="password"
              name="password"
              autoComplete="current-password"
              required
              fullWidth
              margin="normal"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              error={field === "password"}
              helperText={field === "password" ? message : undefined}
            />
            {message && !field ? (
              <Alert severity="error" sx={{ mt: 1 }}>
                {message}
              </Alert>
            ) : null}
            <Button
              type="submit"
              variant="contained"
              fullWidth
              sx={{ mt: 2 }}
              disabled={busy || !email || !password}
            >
              Sign in
            </Button>
          </Box>
        </CardContent>
      </Card>
    </Box>
  );
}
