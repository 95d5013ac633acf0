import { CustomRoutes } from "ra-core";
import { Admin } from "react-admin";
import { Route } from "react-router-dom";

import { authProvider, CHANGE_PASSWORD_PATH, ChangePasswordPage, LoginPage } from "./auth/index.ts";
import { dataProvider } from "./dataProvider/index.ts";
import { AppLayout } from "./layout/index.ts";
import { resources } from "./resources/index.tsx";

/**
 * The FluxGate admin UI. Resources are listed in resources/index.tsx; hand-built
 * screens are routes below.
 */
export function App() {
  return (
    <Admin
      disableTelemetry
      title="FluxGate"
      authProvider={authProvider}
      dataProvider={dataProvider}
      loginPage={LoginPage}
      layout={AppLayout}
      requireAuth
    >
      {resources}
      <CustomRoutes noLayout>
        <Route path={CHANGE_PASSWORD_PATH} element={<ChangePasswordPage />} />
      </CustomRoutes>
    </Admin>
  );
}
