/**
 * The dashboard (route suggestion `/dashboard`). It imports recharts: load
 * it lazily (`lazy(() => import("./dashboard/index.ts"))`) so the charts stay
 * out of the login page's bundle.
 */
export { Dashboard, type DashboardProps } from "./Dashboard.tsx";
