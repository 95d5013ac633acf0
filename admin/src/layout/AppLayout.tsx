import { Navigate } from "ra-core";
import { type ReactNode } from "react";
import {
  AppBar,
  Layout,
  LoadingIndicator,
  Logout,
  MenuItemLink,
  TitlePortal,
  ToggleThemeButton,
  UserMenu,
} from "react-admin";

import { currentTokens } from "../api/session.ts";
import { CHANGE_PASSWORD_PATH } from "../auth/authProvider.ts";
import { AppMenu } from "./AppMenu.tsx";
import { TeamProvider } from "./TeamContext.tsx";
import { TeamSwitcher } from "./TeamSwitcher.tsx";

function FluxGateAppBar() {
  return (
    <AppBar
      userMenu={
        <UserMenu>
          <MenuItemLink to={CHANGE_PASSWORD_PATH} primaryText="Change password" />
          <Logout />
        </UserMenu>
      }
      toolbar={
        <>
          <ToggleThemeButton />
          <LoadingIndicator />
        </>
      }
    >
      <TitlePortal />
      <TeamSwitcher />
    </AppBar>
  );
}

/** react-admin's layout with the team switcher and theme toggle; a temporary password goes first. */
export function AppLayout({ children }: { children: ReactNode }) {
  if (currentTokens()?.mustResetPassword) return <Navigate to={CHANGE_PASSWORD_PATH} replace />;
  return (
    <TeamProvider>
      <Layout appBar={FluxGateAppBar} menu={AppMenu}>
        {children}
      </Layout>
    </TeamProvider>
  );
}
