import DashboardIcon from "@mui/icons-material/Dashboard";
import GppBadIcon from "@mui/icons-material/GppBad";
import HowToRegIcon from "@mui/icons-material/HowToReg";
import { Menu } from "react-admin";

/** Paths of the hand-built pages (App.tsx routes them). */
export const APPROVALS_PATH = "/approvals";
export const ACTIVE_KILLS_PATH = "/kills";

/** The menu: the dashboard, the release manager's pages, then every resource (features first). */
export function AppMenu() {
  return (
    <Menu>
      <Menu.DashboardItem primaryText="Dashboard" leftIcon={<DashboardIcon />} />
      <Menu.Item to={APPROVALS_PATH} primaryText="Approvals" leftIcon={<HowToRegIcon />} />
      <Menu.Item to={ACTIVE_KILLS_PATH} primaryText="Active kills" leftIcon={<GppBadIcon />} />
      <Menu.ResourceItems />
    </Menu>
  );
}
