import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

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

/**
 * Let the page reach the gateway and nothing else, as on a network with no internet: every other request
 * is aborted and listed. WebSockets are not routed here; the pages under test open them only to the gateway.
 */
export async function onlyGateway(page: Page, gatewayUrl: string): Promise<string[]> {
  const origin = new URL(gatewayUrl).origin;
  const blocked: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    blocked.push(url);
    return route.abort('internetdisconnected');
  });
  return blocked;
}

/** Content-Security-Policy violations the page reports, as Chromium's console words them. */
export function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) seen.push(message.text());
  });
  return seen;
}
