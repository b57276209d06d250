import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Whether Debian's Chromium is here; without CI its tests skip, and say so. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing, and CI requires the dashboard tests: .ci/run installs chromium.`);
  console.warn(`SKIPPING the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium).`);
  return false;
}

/** Headless Chromium with this machine's closed network in mind (no background fetches). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
