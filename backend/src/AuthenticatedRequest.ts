import type { IncomingMessage } from "node:http";

import type { Identity } from "./auth/AuthService.ts";

/** The request, once the HTTP layer has authenticated it. */
export type AuthenticatedRequest = IncomingMessage & { fluxgateIdentity?: Identity };
