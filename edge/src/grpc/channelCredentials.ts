import { readFileSync } from "node:fs";

import * as grpc from "@grpc/grpc-js";

/** TLS with the backend's CA (EDGE_BACKEND_TLS_CA), or plaintext when none is set. */
export function channelCredentials(tlsCaFile?: string): grpc.ChannelCredentials {
  return tlsCaFile
    ? grpc.credentials.createSsl(readFileSync(tlsCaFile))
    : grpc.credentials.createInsecure();
}
