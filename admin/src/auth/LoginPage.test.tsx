import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { AuthProvider } from "ra-core";
import { AdminContext } from "react-admin";
import { describe, expect, test, vi } from "vitest";

import { ApiError } from "../api/errors.ts";
import { ChangePasswordPage } from "./ChangePasswordPage.tsx";
import { LoginPage } from "./LoginPage.tsx";

function renderWith(ui: React.ReactNode, login: AuthProvider["login"]) {
  const authProvider: AuthProvider = {
    login,
    logout: async () => undefined,
    checkAuth: async () => undefined,
    checkError: async () => undefined,
    getPermissions: async () => undefined,
  };
  return render(<AdminContext authProvider={authProvider}>{ui}</AdminContext>);
}

async function signIn(email: string, password: string) {
  const user = userEvent.setup({ delay: null });
  await user.type(screen.getByLabelText(/^Email/), email);
  await user.type(screen.getByLabelText(/^Password/), password);
  await user.click(screen.getByRole("button", { name: "Sign in" }));
}

// Rendering react-admin in jsdom is slow on a loaded machine.
const slow = { timeout: 30_000 };

describe("LoginPage", slow, () => {
  test("sends the typed email and password", async () => {
    const login = vi.fn(async () => undefined);
    renderWith(<LoginPage />, login);
    await signIn(" ada@example.com ", "correct horse battery");
    expect(login).toHaveBeenCalledWith({
      email: "ada@example.com",
      password: "correct horse battery",
    });
  });

  test("shows wrong credentials as a sentence next to the password (CREDS)", async () => {
    renderWith(<LoginPage />, async () => {
      throw new ApiError("CREDS", "invalid email or password", { status: 200 });
    });
    await signIn("ada@example.com", "nope-nope-nope");
    const password = screen.getByLabelText(/^Password/);
    expect(await screen.findByText(/^Wrong email or password\./)).toBeVisible();
    expect(password).toHaveAttribute("aria-invalid", "true");
    expect(password).toHaveAccessibleDescription(/Wrong email or password\./);
  });

  test("shows a lockout next to the email (LOCKD)", async () => {
    renderWith(<LoginPage />, async () => {
      throw new ApiError("LOCKD", "too many attempts", { status: 200 });
    });
    await signIn("ada@example.com", "whatever-whatever");
    expect(await screen.findByText(/^Too many failed attempts/)).toBeVisible();
    expect(screen.getByLabelText(/^Email/)).toHaveAccessibleDescription(/Too many failed attempts/);
  });

  test("shows an unreachable server above the button", async () => {
    renderWith(<LoginPage />, async () => {
      throw new ApiError("NETWORK", "The server cannot be reached. Check your connection.", {
        status: 0,
      });
    });
    await signIn("ada@example.com", "whatever-whatever");
    expect(await screen.findByRole("alert")).toHaveTextContent("The server cannot be reached.");
  });
});

describe("ChangePasswordPage", slow, () => {
  test("refuses two different new passwords next to the confirmation, without calling the API", async () => {
    const user = userEvent.setup({ delay: null });
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    renderWith(<ChangePasswordPage />, async () => undefined);
    expect(screen.getByRole("heading", { name: "Choose a new password" })).toBeVisible();
    await user.type(screen.getByLabelText(/^Current password/), "temporary-one");
    await user.type(screen.getByLabelText(/^New password/), "a long new password");
    await user.type(screen.getByLabelText(/^Confirm new password/), "a long new passw0rd");
    await user.click(screen.getByRole("button", { name: "Change password" }));
    expect(screen.getByLabelText(/^Confirm new password/)).toHaveAccessibleDescription(
      "The two new passwords are not the same.",
    );
    expect(fetchSpy).not.toHaveBeenCalled();
    fetchSpy.mockRestore();
  });
});
