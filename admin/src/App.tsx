import { CustomRoutes, type DashboardComponent } from "ra-core";
import { Admin, Resource } from "react-admin";
import { Route } from "react-router-dom";

import { authProvider, CHANGE_PASSWORD_PATH, ChangePasswordPage, LoginPage } from "./auth/index.ts";
import { dataProvider } from "./dataProvider/index.ts";
import { featureResource } from "./features/index.ts";
import { ACTIVE_KILLS_PATH, AppLayout, APPROVALS_PATH } from "./layout/index.ts";
import { lazyScreen } from "./resources/common/lazyScreen.ts";
import { resources } from "./resources/index.tsx";

// Hand-built pages, each its own chunk (recharts only in the dashboard's).
const Dashboard = lazyScreen(
  () => import("./dashboard/Dashboard.tsx"),
  "Dashboard",
) as DashboardComponent;
const ApprovalsInbox = lazyScreen(
  () => import("./governance/ApprovalsInbox.tsx"),
  "ApprovalsInbox",
);
const ActiveKills = lazyScreen(() => import("./features/ActiveKills.tsx"), "ActiveKills");

/**
 * The FluxGate admin UI: the dashboard at `/`, the features resource
 * (features/), the generic resources (resources/index.tsx) and the
 * hand-built pages routed below.
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
      dashboard={Dashboard}
      requireAuth
    >
      <Resource {...featureResource} />
      {resources}
      <CustomRoutes>
        <Route path={APPROVALS_PATH} element={<ApprovalsInbox />} />
        <Route path={ACTIVE_KILLS_PATH} element={<ActiveKills />} />
      </CustomRoutes>
      <CustomRoutes noLayout>
        <Route path={CHANGE_PASSWORD_PATH} element={<ChangePasswordPage />} />
      </CustomRoutes>
    </Admin>
  );
}
