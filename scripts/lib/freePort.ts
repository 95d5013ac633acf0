import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A free TCP port on 127.0.0.1 for a server a test starts a moment later.
 * Chosen below the kernel's ephemeral range (ip_local_port_range, where port
 * 0 would land): every outgoing connection of every test also takes a port
 * from that range, and one could take ours between this check and the
 * server's listen (EADDRINUSE). Below it only other servers compete, and the
 * pick is random, so two parallel callers rarely meet; the port is checked
 * free before it is handed out.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const top = Math.min(low, 65_536);
  const bottom = Math.max(10_000, top - 20_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if (await isFree(port)) return port;
  }
  return kernelPort();
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high && low > 11_000) return [low, high];
  } catch {
    // not Linux: use the IANA ephemeral range's start
  }
  return [49_152, 65_535];
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** The kernel's pick (port 0), when no port below the ephemeral range is free. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not allocate a port"));
      });
    });
  });
}
