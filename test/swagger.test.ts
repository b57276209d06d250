import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { chromiumAvailable, cspViolations, launchChromium, onlyGateway } from './support/browser';
import { startTestGateway, type TestGateway } from './support/gateway';

const ARTIFACTS = 'test-artifacts';

describe('Swagger UI', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({}, { runner: false });
  });
  afterAll(() => t?.stop());

  it('is sent with a CSP that forbids framing, inline scripts and other origins', async () => {
    for (const path of ['/swagger', '/swagger/', '/swagger/static/swagger-initializer.js']) {
      const csp = (await fetch(`${t.url}${path}`)).headers.get('content-security-policy') ?? '';
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).toMatch(/script-src 'self'(;|$)/);
      expect(csp, path).toMatch(/default-src 'self'/);
    }
  });

  describe.runIf(chromiumAvailable())('in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      browser = await launchChromium();
    });
    afterAll(() => browser?.close());

    it('renders the REST routes under that CSP, with nothing from elsewhere', { timeout: 60_000 }, async () => {
      const page = await browser.newPage();
      const violations = cspViolations(page);
      const blocked = await onlyGateway(page, t.url);
      await page.goto(`${t.url}/swagger`);
      await page.locator('.opblock-summary-path', { hasText: '/api/v1/HostScanJob/ByHostIdMultiple' }).waitFor({ timeout: 30_000 });
      await page.locator('.opblock-summary', { hasText: 'ByHostIdMultiple' }).click();
      await page.locator('.opblock-body').first().waitFor();
      // "Try it out" calls the gateway from the page: connect-src allows it.
      const live = page.locator('.opblock', { hasText: '/health/live' });
      await live.locator('.opblock-summary').click();
      await live.getByRole('button', { name: 'Try it out' }).click();
      await live.getByRole('button', { name: 'Execute' }).click();
      await expect.poll(() => live.locator('.live-responses-table .response .response-col_status').first().textContent(), { timeout: 10_000 }).toMatch(/200/);
      await page.screenshot({ path: `${ARTIFACTS}/swagger.png`, fullPage: true });
      expect(violations).toEqual([]);
      expect(blocked).toEqual([]);
      await page.close();
    });
  });
});
