// Moved to scripts/lib/testBackend.ts (shared with the edge tests).
export * from "../../scripts/lib/testBackend.ts";
