import type { PostGraphileInstance } from "postgraphile";

/**
 * Releases a PostGraphile instance and its Postgres services (pools and the
 * LISTEN client): `pgl.release()` alone leaves the pools open.
 */
export async function releasePostGraphile(pgl: PostGraphileInstance): Promise<void> {
  const services = pgl.getResolvedPreset().pgServices ?? [];
  await pgl.release();
  for (const service of services) await service.release?.();
}
