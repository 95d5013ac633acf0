/**
 * The features resource for `<Admin>`: list, create and edit screens (each
 * loaded on demand), plus the kill switch and the active-kills page.
 */
import FlagIcon from "@mui/icons-material/Flag";
import { createElement, lazy, Suspense } from "react";
import { Loading } from "react-admin";

export { ActiveKills } from "./ActiveKills.tsx";
export { KillSwitchButton, type KillSwitchButtonProps } from "./KillSwitchButton.tsx";
export { FeatureTeamProvider, useFeatureTeamId } from "./useFeatureTeam.ts";

const LazyList = lazy(() => import("./FeatureList.tsx").then((m) => ({ default: m.FeatureList })));
const LazyEdit = lazy(() => import("./FeatureEdit.tsx").then((m) => ({ default: m.FeatureEdit })));
const LazyCreate = lazy(() =>
  import("./FeatureCreate.tsx").then((m) => ({ default: m.FeatureCreate })),
);

function suspended(Component: React.ComponentType) {
  const Wrapped = () =>
    createElement(Suspense, { fallback: createElement(Loading) }, createElement(Component));
  return Wrapped;
}

export const FeatureListPage = suspended(LazyList);
export const FeatureEditPage = suspended(LazyEdit);
export const FeatureCreatePage = suspended(LazyCreate);

/** `<Resource {...featureResource} />`; routes: /features, /features/create, /features/:rowId. */
export const featureResource = {
  name: "features",
  list: FeatureListPage,
  edit: FeatureEditPage,
  create: FeatureCreatePage,
  icon: FlagIcon,
  recordRepresentation: (record: { key?: string; name?: string }) =>
    record.key ?? record.name ?? "",
};
