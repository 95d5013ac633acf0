/** For a select whose empty value is a real choice ("Nobody", "The off variant"): show it. */
export const SHOW_EMPTY_CHOICE = {
  select: { displayEmpty: true },
  inputLabel: { shrink: true },
} as const;
