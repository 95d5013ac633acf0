export {
  authProvider,
  CHANGE_PASSWORD_PATH,
  changePassword,
  isSessionEnded,
  loadPermissions,
  refreshPermissions,
} from "./authProvider.ts";
export { ChangePasswordPage } from "./ChangePasswordPage.tsx";
export { LoginPage } from "./LoginPage.tsx";
export { can, type Permissions, type TeamAccess, type TeamRole } from "./permissions.ts";
