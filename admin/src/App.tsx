import { Admin } from "react-admin";

/** The FluxGate admin UI (providers and resources land with issue #14). */
export function App() {
  return <Admin disableTelemetry />;
}
