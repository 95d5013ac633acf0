import type { ChildProcess } from "node:child_process";

export interface ChildOutput {
  /** Everything the child wrote to stdout and stderr so far. */
  text(): string;
  /** Resolves once the output contains `marker`; rejects if the child exits or time runs out. */
  waitFor(marker: string, timeoutMs?: number): Promise<void>;
}

/** Collects a spawned child's stdout and stderr (spawn it with pipes). */
export function childOutput(child: ChildProcess): ChildOutput {
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  return {
    text: () => output,
    async waitFor(marker, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(marker)) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          throw new Error(`no "${marker}" from the child process:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}
