/**
 * The feature editor's components: controlled (value + onChange), MUI only,
 * no react-admin form context, so any page can compose them. The pure
 * checks they use are exported too, for a page to decide whether it can save.
 */
export { distributeEvenly, formatPercent, parsePercent } from "./basisPoints.ts";
export {
  CriteriaEditor,
  type CriteriaEditorProps,
  type CriterionError,
  validateCriteria,
} from "./CriteriaEditor.tsx";
export {
  checkDependencies,
  cyclePath,
  type DependencyEdge,
  type DependencyIssue,
  wouldCreateCycle,
} from "./dependencyCycles.ts";
export {
  DependencyPicker,
  type DependencyPickerFeature,
  type DependencyPickerProps,
} from "./DependencyPicker.tsx";
export { OPERATOR_LABELS } from "./operatorLabels.ts";
export { RolloutSlider, type RolloutSliderProps } from "./RolloutSlider.tsx";
export { RuleBuilder, type RuleBuilderProps, type RuleError } from "./RuleBuilder.tsx";
export { SplitEditor, type SplitEditorProps, splitProblem, splitTotal } from "./SplitEditor.tsx";
export type * from "./types.ts";
export {
  operatorsFor,
  type RuleIssue,
  type RuleIssueCode,
  validateRules,
} from "./validateRules.ts";
export {
  type FeatureKind,
  SIMPLE_VARIANTS,
  validateVariants,
  VariantsEditor,
  type VariantsEditorProps,
} from "./VariantsEditor.tsx";
export { describeRules, VersionDiff, type VersionDiffProps } from "./VersionDiff.tsx";
