/* The domain builders live in scripts/lib (shared with the backend tests). */
export * from "../../scripts/lib/domainFixtures.ts";
