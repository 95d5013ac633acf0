/** One `POST /evaluate` at the edge with a client secret of its environment. */
export interface EdgeResult {
  flagKey: string;
  value: unknown;
  variant: string | null;
  reason: string;
  errorCode?: string;
}

export async function evaluateAtEdge(
  edgeUrl: string,
  secret: string,
  flagKey: string,
  context: Record<string, unknown> = {},
): Promise<EdgeResult> {
  const response = await fetch(`${edgeUrl}/evaluate`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ flagKey, context }),
  });
  if (!response.ok)
    throw new Error(`edge /evaluate ${flagKey}: ${response.status} ${await response.text()}`);
  return (await response.json()) as EdgeResult;
}
