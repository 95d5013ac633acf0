/**
 * Real headless Chromium for end-to-end tests: Debian's `chromium` (apt)
 * driven by `playwright-core`, which cannot download browsers here.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.FLUXGATE_CHROMIUM || "/usr/bin/chromium";
/** Where `screenshot()` writes (git-ignored PNGs; see admin/README.md). */
export const SCREENSHOT_DIR = new URL("../screenshots/", import.meta.url).pathname;

/** Launches Chromium; a missing browser is an error that says how to install it, never a skip. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package with ` +
        "`apt-get install -y chromium` (.ci/run does) or set FLUXGATE_CHROMIUM.",
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/** Saves the whole page as `admin/e2e/screenshots/<name>.png`; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
