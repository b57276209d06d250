import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumAvailable, launchChromium } from './support/browser';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { closedPort, silentListener, sshListener, type TestListener } from './support/listeners';
import { adminToken } from './support/tokens';

const ARTIFACTS = 'test-artifacts';

describe.runIf(chromiumAvailable())('the dashboard in headless Chromium', () => {
  let t: TestGateway;
  let browser: Browser;
  let page: Page;
  const listeners: TestListener[] = [];
  const names = { debian: `debian-${randomUUID().slice(0, 8)}`, stuck: `stuck-${randomUUID().slice(0, 8)}` };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestGateway({ SCAN_TIMEOUT_MS: '30000' });
    const ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 500 });
    const silent = await silentListener();
    listeners.push(ssh, silent);
    const closed = await closedPort();
    await t.gateway.service.upsertHosts(ADMIN, {
      hosts: [
        { name: names.debian, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed },
        { name: names.stuck, ipAddress: '127.0.0.1', sshPort: silent.port, winRmPort: silent.port },
      ],
    });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await Promise.all(listeners.map((l) => l.close()));
  });

  const hostRow = (name: string) => page.locator('#hosts tbody tr', { hasText: name });
  const jobRow = (name: string) => page.locator('#jobs tbody tr', { hasText: name }).first();

  it('schedules a scan by clicking and shows it Complete with the OS found', async () => {
    await page.goto(`${t.url}/`);
    await page.fill('#token', adminToken());
    await page.click('#token-form button[type=submit]');
    await hostRow(names.debian).locator('input[type=checkbox]').check();
    await page.click('#scan');
    await expect.poll(() => jobRow(names.debian).locator('.status').textContent(), { timeout: 15_000 }).toBe('Complete');
    expect(await jobRow(names.debian).locator('.found').textContent()).toBe('Debian 12');
    await expect.poll(() => hostRow(names.debian).locator('td').nth(3).textContent(), { timeout: 5_000 }).toBe('Debian');
    expect(await page.locator('#connection').textContent()).toBe('live');
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-complete.png`, fullPage: true });
  });

  it('cancels a running job', async () => {
    await hostRow(names.stuck).locator('input[type=checkbox]').check();
    await page.click('#scan');
    await expect.poll(() => jobRow(names.stuck).locator('.status').textContent(), { timeout: 10_000 }).toBe('Running');
    await jobRow(names.stuck).getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => jobRow(names.stuck).locator('.status').textContent(), { timeout: 10_000 }).toBe('Cancelled');
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-cancelled.png`, fullPage: true });
  });

  it('says so when the token is refused', async () => {
    const fresh = await browser.newPage();
    await fresh.goto(`${t.url}/`);
    await fresh.fill('#token', 'not-a-token');
    await fresh.click('#token-form button[type=submit]');
    await expect.poll(() => fresh.locator('#message').textContent()).toMatch(/bearer token/i);
    await fresh.close();
  });
});
