import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, WebSocket, WebSocketRoute } from 'playwright-core';
import { chromiumAvailable, cspViolations, launchChromium } from './support/browser';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { closedPort, silentListener, sshListener, type TestListener } from './support/listeners';
import { waitForJob } from './support/jobs';
import { adminToken, appToken, token } from './support/tokens';
import { gql } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { recordSnapshots, syntheticSnapshot } from './support/inventory';
import { UserPrivilege } from '../src/inventory';
import { totpCode } from '../src/totp';

const ARTIFACTS = 'test-artifacts';
// Polls wait on a real gateway sharing two cores with other tests: allow it time.
const WAIT = { timeout: 10_000 };
const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}/dashboard-${name}.png`, fullPage: true });

/** At 360 px wide the page needs no sideways scrolling for what it shows now; screenshot 360px-`name`. */
async function fits360(page: Page, name: string) {
  await page.setViewportSize({ width: 360, height: 800 });
  // A string: these tests are compiled without the DOM's types.
  const sizes = await page.evaluate<{ scroll: number; inner: number }>('({ scroll: document.scrollingElement.scrollWidth, inner: innerWidth })');
  expect(sizes.scroll, `${name} at 360 px`).toBeLessThanOrEqual(sizes.inner);
  await shot(page, `360px-${name}`);
}

describe.runIf(chromiumAvailable())('the dashboard in headless Chromium', () => {
  let t: TestGateway;
  let browser: Browser;
  const pages: Page[] = [];
  const listeners: TestListener[] = [];
  const tag = randomUUID().slice(0, 6);
  const names = { debian: `debian-${tag}`, stuck: `stuck-${tag}`, slow: `slow-${tag}`, down: `down-${tag}` };
  const hostIds: Record<string, string> = {};

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestGateway({ SCAN_TIMEOUT_MS: '30000' });
    const ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 500 });
    // Answers only after 3 s, so its scan is seen Running for that long.
    const slow = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 3000 });
    const silent = await silentListener();
    listeners.push(ssh, slow, silent);
    const closed = await closedPort();
    const hosts = await t.gateway.service.upsertHosts(ADMIN, {
      hosts: [
        { name: names.debian, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed },
        { name: names.stuck, ipAddress: '127.0.0.1', sshPort: silent.port, winRmPort: silent.port },
        { name: names.slow, ipAddress: '127.0.0.1', sshPort: slow.port, winRmPort: closed },
        { name: names.down, ipAddress: '127.0.0.1', sshPort: closed, winRmPort: closed },
      ],
    });
    for (const h of hosts) hostIds[h.name] = h.id;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await Promise.all(listeners.map((l) => l.close()));
  });

  /** A fresh page, its CSP violations collected; `prepare` runs before the page loads (routes, listeners). */
  async function newPage(prepare?: (page: Page) => Promise<unknown> | unknown) {
    const page = await browser.newPage();
    pages.push(page);
    page.on('pageerror', (err) => console.error('page error:', err));
    const violations = cspViolations(page);
    await prepare?.(page);
    return { page, violations };
  }

  /** A page signed in with `tokenValue` (an Admin token by default) that shows the hosts. */
  async function signedIn(tokenValue = adminToken(), prepare?: (page: Page) => Promise<unknown> | unknown) {
    const opened = await newPage(prepare);
    await opened.page.goto(`${t.url}/`);
    await opened.page.fill('#token', tokenValue);
    await opened.page.click('#token-form button[type=submit]');
    await expect.poll(() => opened.page.locator('#connection').textContent(), WAIT).toBe('live');
    return opened;
  }

  const hostRow = (page: Page, name: string) => page.locator('#hosts tbody tr', { hasText: name });
  const jobRow = (page: Page, jobId: string) => page.locator(`#jobs tbody tr[data-job-id="${jobId}"]`);
  const jobStatus = (page: Page, jobId: string) => jobRow(page, jobId).locator('.status').textContent();
  /** Tick the host, press "Scan selected" and return the id of the job the gateway answered with. */
  async function schedule(page: Page, name: string): Promise<string> {
    const reply = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('scheduleHostScans'));
    await hostRow(page, name).locator('input[type=checkbox]').check();
    await page.click('#scan');
    return (await (await reply).json()).data.scheduleHostScans[0].id;
  }

  it('says when there are no jobs yet and when no host matches the filter', async () => {
    const { page, violations } = await signedIn();
    await expect.poll(() => page.locator('#jobs-empty').textContent(), WAIT).toMatch(/^No jobs yet/);
    expect(await page.locator('#jobs').isHidden()).toBe(true);
    expect(await page.locator('#jobs-live').textContent()).toBe('(live)');
    await shot(page, 'no-jobs');
    await page.fill('#search', 'no-such-host-anywhere');
    await expect.poll(() => page.locator('#hosts-empty').textContent(), WAIT).toBe('No hosts match “no-such-host-anywhere”.');
    expect(await page.locator('#hosts').isHidden()).toBe(true);
    await shot(page, 'no-match');
    await page.fill('#search', tag);
    await expect.poll(() => page.locator('#hosts tbody tr').count(), WAIT).toBe(4);
    expect(await page.locator('#hosts-empty').isHidden()).toBe(true);
    expect(violations).toEqual([]);
  });

  it('schedules a scan by clicking and shows it Complete with the OS found, in the jobs and the hosts', async () => {
    const { page } = await signedIn();
    expect(await hostRow(page, names.debian).locator('.last-scan').textContent()).toBe('never');
    const job = await schedule(page, names.debian);
    await expect.poll(() => jobStatus(page, job), { timeout: 15_000 }).toBe('Complete');
    expect(await jobRow(page, job).locator('.found').textContent()).toBe('Debian 12');
    await expect.poll(() => hostRow(page, names.debian).locator('td').nth(3).textContent(), WAIT).toBe('Debian');
    expect(await hostRow(page, names.debian).locator('.last-scan .status').textContent()).toBe('Complete');
    expect(await page.locator('#connection').textContent()).toBe('live');
    await shot(page, 'complete');
  });

  it('keeps the newest state when the scheduling reply arrives after the live events that followed it', async () => {
    let release!: () => void;
    const runningSeen = new Promise<void>((resolve) => (release = resolve));
    const { page } = await signedIn(adminToken(), async (p) => {
      // The subscription's Running reaches the page first ...
      p.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
        if (String(payload).includes(names.slow) && String(payload).includes('"status":"Running"')) release();
      }));
      // ... and only then the mutation's reply, which says Queued.
      await p.route('**/graphql', async (route) => {
        if (!route.request().postData()?.includes('scheduleHostScans')) return route.continue();
        const response = await route.fetch();
        await runningSeen;
        await route.fulfill({ response });
      });
    });
    const job = await schedule(page, names.slow);
    await runningSeen;
    // The reply has been handled once the selection it clears is gone.
    await expect.poll(() => page.locator('#scan').isDisabled(), WAIT).toBe(true);
    expect(await jobStatus(page, job)).toMatch(/^(Running|Complete)$/);
    await shot(page, 'late-reply');
    await expect.poll(() => jobStatus(page, job), { timeout: 15_000 }).toBe('Complete');
  });

  it('cancels a running job', async () => {
    const { page } = await signedIn();
    const job = await schedule(page, names.stuck);
    await expect.poll(() => jobStatus(page, job), { timeout: 10_000 }).toBe('Running');
    await jobRow(page, job).getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => jobStatus(page, job), { timeout: 10_000 }).toBe('Cancelled');
    expect(await jobRow(page, job).getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    await shot(page, 'cancelled');
  });

  it('says why a scan failed once, and the host shows the failure as its last outcome', async () => {
    const { page } = await signedIn();
    const job = await schedule(page, names.down);
    await expect.poll(() => jobStatus(page, job), { timeout: 15_000 }).toBe('Failed');
    const found = (await jobRow(page, job).locator('.found').textContent())!;
    expect(found).toMatch(/^Failed to connect: /);
    expect(found).not.toMatch(/FailedToConnect/);
    expect(found.match(/failed to connect/gi)).toHaveLength(1);
    await expect.poll(() => hostRow(page, names.down).locator('.last-scan .status').textContent(), WAIT).toBe('Failed');
    await shot(page, 'failed');
  });

  it('shows a job in detail: each host, durations, who scheduled it and from where', async () => {
    const { page } = await signedIn();
    const job = await schedule(page, names.debian);
    await expect.poll(() => jobStatus(page, job), { timeout: 15_000 }).toBe('Complete');
    await jobRow(page, job).getByRole('button', { name: 'Details' }).click();
    const fact = (name: string) => page.locator(`#job-detail dd[data-fact="${name}"]`).textContent();
    await expect.poll(() => fact('Scheduled by'), WAIT).toBe('Ada Admin');
    expect(await fact('From')).toBe('127.0.0.1');
    expect(await fact('Status')).toBe('Complete');
    expect(await fact('Job')).toBe(job);
    expect(await fact('Created')).not.toBe('');
    expect(await fact('Duration')).toMatch(/^\d+(\.\d)? (ms|s)$/);
    const hostLine = page.locator('#job-detail tbody tr', { hasText: names.debian });
    expect(await hostLine.locator('.status').textContent()).toBe('Complete');
    expect(await hostLine.locator('.description').textContent()).toMatch(/^Complete: Debian 12/);
    expect(await jobRow(page, job).getAttribute('class')).toBe('selected');
    await shot(page, 'detail');
    await page.click('#job-detail-close');
    expect(await page.locator('#job-detail').isHidden()).toBe(true);
  });

  it('fits a 360 px wide screen with no sideways scrolling', async () => {
    const { page } = await signedIn();
    // A failed scan: the longest text a row holds.
    const job = await schedule(page, names.down);
    await expect.poll(() => jobStatus(page, job), { timeout: 15_000 }).toBe('Failed');
    await jobRow(page, job).getByRole('button', { name: 'Details' }).click();
    await expect.poll(() => page.locator('#job-detail dd[data-fact="Scheduled by"]').textContent(), WAIT).toBe('Ada Admin');
    for (const width of [360, 390]) {
      await page.setViewportSize({ width, height: 800 });
      // A string: these tests are compiled without the DOM's types.
      const sizes = await page.evaluate<{ scroll: number; inner: number }>('({ scroll: document.scrollingElement.scrollWidth, inner: innerWidth })');
      expect(sizes.scroll, `at ${width} px`).toBeLessThanOrEqual(sizes.inner);
      await shot(page, `${width}px`);
    }
  });

  it('shows when the live connection drops, and re-reads the jobs it missed when it is back', async () => {
    let socket: WebSocketRoute | null = null;
    let offline = false;
    const { page } = await signedIn(adminToken(), (p) =>
      p.routeWebSocket(/\/graphql$/, (ws) => {
        if (offline) return ws.close({ code: 1012, reason: 'test: still offline' });
        socket = ws;
        ws.connectToServer();
      }),
    );
    offline = true;
    (socket as WebSocketRoute | null)!.close({ code: 1012, reason: 'test: network drop' });
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).not.toBe('live');
    expect(await page.locator('#jobs-live').textContent()).not.toMatch(/\(live\)/);
    await shot(page, 'reconnecting');
    // A whole job, from scheduled to Complete, while the page cannot hear of it.
    const [missed] = await t.gateway.service.scheduleHostScans({ ...ADMIN, address: '127.0.0.1' }, { hostIds: [hostIds[names.debian]!] });
    await waitForJob(t.url, missed!.id, adminToken());
    expect(await page.locator('#connection').textContent()).not.toBe('live');
    offline = false;
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 15_000 }).toBe('live');
    expect(await page.locator('#jobs-live').textContent()).toBe('(live)');
    await expect.poll(() => page.locator(`#jobs tbody tr[data-job-id="${missed!.id}"]`).count(), WAIT).toBe(1);
    expect(await page.locator(`#jobs tbody tr[data-job-id="${missed!.id}"] .status`).textContent()).toBe('Complete');
  });

  it('disconnects and drops the data when the token expires while the page is open', { timeout: 60_000 }, async () => {
    // Long enough to sign in on a busy machine; the gateway closes the socket (4403) when it runs out.
    const { page } = await signedIn(token({ roles: ['Admin'], sub: 'brief' }, { expiresIn: 10 }));
    await expect.poll(() => page.locator('#hosts tbody tr').count(), WAIT).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 30_000 }).toBe('not connected');
    expect(await page.locator('#jobs-live').textContent()).toBe('');
    expect(await page.locator('#jobs tbody tr').count()).toBe(0);
    expect(await page.locator('#hosts tbody tr').count()).toBe(0);
    expect(await page.locator('#message').textContent()).toMatch(/expired/i);
    expect(await page.evaluate<string | null>("sessionStorage.getItem('scan-gateway-token')")).toBeNull();
  });

  /** A user made through the real account service, with no authenticator yet. */
  async function newUser() {
    const login = `dash-${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    await t.gateway.accounts.createUser(ADMIN, { login, password, roles: ['Admin'] });
    return { login, password };
  }
  /** Everything the page wrote to its console and every URL it asked for, to look for secrets in. */
  function watchLeaks(page: Page) {
    const seen: string[] = [];
    page.on('console', (m) => seen.push(m.text()));
    page.on('request', (r) => seen.push(r.url()));
    page.on('framenavigated', (f) => seen.push(f.url()));
    return seen;
  }
  const kept = (page: Page) => page.evaluate<string | null>("sessionStorage.getItem('scan-gateway-token')");

  it('signs in with user, password and the code (enrolling an authenticator the first time), loads the jobs and refreshes the token', { timeout: 60_000 }, async () => {
    const { login, password } = await newUser();
    const [job] = await t.gateway.service.scheduleHostScans({ ...ADMIN, address: '127.0.0.1' }, { hostIds: [hostIds[names.down]!] });
    const { page, violations } = await newPage((p) => p.clock.install());
    const leaks = watchLeaks(page);
    await page.goto(`${t.url}/`);
    await page.fill('#login', login);
    await page.fill('#password', password);
    await page.click('#signin-form button[type=submit]');
    await expect.poll(() => page.locator('#code-form').isVisible(), WAIT).toBe(true);
    expect(await page.locator('#signin-form').isHidden()).toBe(true);
    expect(await page.inputValue('#password')).toBe('');
    expect(await kept(page)).toBeNull();
    // No authenticator yet: the page shows the otpauth URI to add to one.
    await page.click('#enrol');
    await expect.poll(() => page.locator('#enrol-uri').textContent(), WAIT).toMatch(/^otpauth:\/\/totp\//);
    const seed = new URL((await page.locator('#enrol-uri').textContent())!).searchParams.get('secret')!;
    // And as a QR code, drawn from the locally served uqr module.
    await expect.poll(() => page.locator('#enrol-qr svg path').count(), WAIT).toBe(1);
    expect((await page.locator('#enrol-qr svg path').getAttribute('d'))!.length).toBeGreaterThan(1000);
    await shot(page, 'signin-enrol');
    // The widest step of signing in: the code form with the otpauth URI, one long word.
    await fits360(page, 'signin-code');
    await page.setViewportSize({ width: 1280, height: 720 });
    // A wrong code (none of the three the gateway accepts now) says so and keeps the code step.
    const now = Date.now();
    const valid = new Set([now - 30_000, now, now + 30_000].map((at) => totpCode(seed, at)));
    const wrong = ['000000', '111111', '222222', '333333'].find((c) => !valid.has(c))!;
    await page.fill('#code', wrong);
    await page.click('#code-form button[type=submit]');
    await expect.poll(() => page.locator('#message').textContent(), WAIT).toBe('The code is wrong, expired or already used.');
    expect(await page.locator('#code-form').isVisible()).toBe(true);
    expect(await kept(page)).toBeNull();
    const code = totpCode(seed);
    await page.fill('#code', code);
    await page.click('#code-form button[type=submit]');
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    await expect.poll(() => page.locator(`#jobs tbody tr[data-job-id="${job!.id}"]`).count(), WAIT).toBe(1);
    expect(await page.locator('#message').isHidden()).toBe(true);
    expect(await page.locator('#signin-form').isVisible()).toBe(true);
    const first = (await kept(page))!;
    expect(JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString())).toMatchObject({ name: login, roles: ['Admin'] });
    await shot(page, 'signin-done');
    // A minute before the token expires the page asks for a fresh one and goes on with it.
    const refreshes: string[] = [];
    page.on('request', (r) => r.url().endsWith('/api/v1/UserToken') && refreshes.push(r.url()));
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/UserToken'));
    await page.clock.fastForward(850_000);
    expect((await refreshed).status()).toBe(200);
    await expect.poll(() => kept(page), WAIT).not.toBe(first);
    const second = (await kept(page))!;
    expect(JSON.parse(Buffer.from(second.split('.')[1]!, 'base64url').toString())).toMatchObject({ name: login });
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    // The page's clock is now 850 s ahead of the gateway's, and the fresh token still has its whole life
    // ahead of it on the gateway's clock: no second refresh until that life is nearly over.
    await page.clock.fastForward(60_000);
    await page.waitForTimeout(500);
    expect(refreshes).toHaveLength(1);
    expect(await page.locator('#connection').textContent()).toBe('live');
    const again = page.waitForResponse((r) => r.url().endsWith('/api/v1/UserToken'));
    await page.clock.fastForward(790_000);
    expect((await again).status()).toBe(200);
    await expect.poll(() => kept(page), WAIT).not.toBe(second);
    expect(refreshes).toHaveLength(2);
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    // A running job's duration is read against the gateway's clock as well: seconds, not 28 minutes.
    const running = await schedule(page, names.stuck);
    await expect.poll(() => jobStatus(page, running), WAIT).toBe('Running');
    await jobRow(page, running).getByRole('button', { name: 'Details' }).click();
    await expect.poll(() => page.locator('#job-detail dd[data-fact="Duration"]').textContent(), WAIT).toMatch(/^\d+(\.\d)? (ms|s) so far$/);
    await jobRow(page, running).getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => jobStatus(page, running), WAIT).toBe('Cancelled');
    const text = leaks.join('\n');
    for (const secret of [password, code, seed, first, second, (await kept(page))!]) expect(text).not.toContain(secret);
    expect(violations).toEqual([]);
  });

  it('says so when the password is wrong, and stores nothing', async () => {
    const { login, password } = await newUser();
    const { page } = await newPage();
    const leaks = watchLeaks(page);
    await page.goto(`${t.url}/`);
    await page.fill('#login', login);
    await page.fill('#password', `${password}-wrong`);
    await page.click('#signin-form button[type=submit]');
    await expect.poll(() => page.locator('#message').textContent(), WAIT).toBe('The login or password is wrong.');
    expect(await page.locator('#code-form').isHidden()).toBe(true);
    expect(await page.inputValue('#password')).toBe('');
    expect(await page.locator('#connection').textContent()).toBe('not connected');
    expect(await kept(page)).toBeNull();
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
    expect(leaks.join('\n')).not.toContain(password);
    await shot(page, 'signin-wrong-password');
  });

  it('says so when the token is refused', async () => {
    const { page } = await newPage();
    await page.goto(`${t.url}/`);
    await page.fill('#token', 'not-a-token');
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.locator('#message').textContent(), WAIT).toMatch(/bearer token/i);
    expect(await page.locator('#connection').textContent()).toBe('not connected');
  });
});

describe.runIf(chromiumAvailable())('the dashboard with a development token', () => {
  let dev: TestGateway;
  let browser: Browser;
  let page: Page;
  const connection = () => page.locator('#connection').textContent();
  const rows = (table: string) => page.locator(`#${table} tbody tr`).count();
  const kept = () => page.evaluate<string | null>("sessionStorage.getItem('scan-gateway-token')");

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // No key: the gateway makes one and offers its Admin token to this machine. No runner: jobs stay queued.
    dev = await startTestGateway({ JWT_SECRET: '' }, { runner: false });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('signs in by itself with the development token, which it does not keep', async () => {
    await page.goto(`${dev.url}/`);
    await expect.poll(connection, WAIT).toBe('live');
    expect(await page.inputValue('#token')).toBe(dev.gateway.devTokens!.admin);
    await page.locator('#hosts tbody tr', { hasText: 'localhost' }).locator('input[type=checkbox]').check();
    await page.click('#scan');
    await expect.poll(async () => [await rows('jobs'), await page.locator('#message').textContent()], WAIT).toEqual([1, '']);
    expect(await kept()).toBeNull();
  });

  it('after a refused token: no data, not live, nothing kept; a reload is back on the development token', async () => {
    await page.fill('#token', 'not-a-token');
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.locator('#message').textContent(), WAIT).toMatch(/^The bearer token is malformed\./);
    expect(await connection()).toBe('not connected');
    expect(await page.locator('#jobs-live').textContent()).not.toMatch(/live/);
    expect(await rows('jobs')).toBe(0);
    expect(await rows('hosts')).toBe(0);
    expect(await page.inputValue('#token')).toBe(dev.gateway.devTokens!.admin);
    expect(await kept()).toBeNull();
    await shot(page, 'refused');

    await page.reload();
    await expect.poll(connection, WAIT).toBe('live');
    await expect.poll(() => rows('jobs'), WAIT).toBe(1);
    expect(await rows('hosts')).toBeGreaterThan(0);
    expect(await page.locator('#message').isHidden()).toBe(true);
    await shot(page, 'reloaded');
  });

  it('keeps a token it accepted across a reload, and drops it for the development token once refused', async () => {
    await page.fill('#token', dev.gateway.devTokens!.app);
    await page.click('#token-form button[type=submit]');
    await expect.poll(connection, WAIT).toBe('live');
    expect(await kept()).toBe(dev.gateway.devTokens!.app);
    await page.reload();
    await expect.poll(connection, WAIT).toBe('live');
    expect(await page.inputValue('#token')).toBe(dev.gateway.devTokens!.app);

    // A kept token the gateway no longer takes, as after a development gateway restarts with a new key.
    await page.evaluate("sessionStorage.setItem('scan-gateway-token', 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln')");
    await page.reload();
    await expect.poll(connection, WAIT).toBe('live');
    expect(await page.inputValue('#token')).toBe(dev.gateway.devTokens!.admin);
    expect(await kept()).toBeNull();
    expect(await page.locator('#message').textContent()).toMatch(/kept from before was refused/);
  });
});

describe.runIf(chromiumAvailable())("the dashboard: a newcomer's first scan of the demo host", () => {
  let dev: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // As `npm start` runs it: development (no key), the runner on, no HOSTS_FILE, so the demo host and target.
    dev = await startTestGateway({ JWT_SECRET: '' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('ticks localhost, presses Scan selected, and sees the row go Running, then Complete naming Debian 12', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    const violations = cspViolations(page);
    await page.goto(`${dev.url}/`);
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    const host = page.locator('#hosts tbody tr', { hasText: 'localhost' });
    expect(await host.count()).toBe(1);
    expect(await host.locator('.last-scan').textContent()).toBe('never');
    const reply = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('scheduleHostScans'));
    await host.locator('input[type=checkbox]').check();
    await page.click('#scan');
    const job = (await (await reply).json()).data.scheduleHostScans[0].id as string;
    const row = page.locator(`#jobs tbody tr[data-job-id="${job}"]`);
    // The demo target answers after a second: long enough to see the scan Running.
    await expect.poll(() => row.locator('.status').textContent(), WAIT).toBe('Running');
    await shot(page, 'demo-running');
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 15_000 }).toBe('Complete');
    expect(await row.locator('.found').textContent()).toBe('Debian 12');
    await expect.poll(() => host.locator('.last-scan .status').textContent(), WAIT).toBe('Complete');
    await shot(page, 'demo-complete');
    expect(violations).toEqual([]);
    await page.close();
  });
});

describe.runIf(chromiumAvailable())('the dashboard: a host in detail', () => {
  let t: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // No runner: the scans are recorded here, through the store's own result path.
    t = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false });
    await recordSnapshots(t.gateway.store, [{ hostId: HOSTS.alpha.id, snapshot: syntheticSnapshot({ users: 6 }), fingerprint: 'SHA256:first' }]);
    const next = syntheticSnapshot({ users: 6 });
    next.users[3]!.privilege = UserPrivilege.Administrator;
    next.users[3]!.privilegeReasons = ['member of sudo'];
    next.users.splice(5, 1);
    await recordSnapshots(t.gateway.store, [{ hostId: HOSTS.alpha.id, snapshot: next, fingerprint: 'SHA256:second' }]);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('lists privileged accounts first, highlights privileged changes, and shows the host key and its trust', async () => {
    const page = await browser.newPage();
    const violations = cspViolations(page);
    await page.goto(`${t.url}/`);
    await page.fill('#token', adminToken());
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    await page.locator('#hosts tbody tr', { hasText: 'alpha' }).getByRole('button', { name: 'Details' }).click();
    await expect.poll(() => page.locator('#host-detail').isVisible(), WAIT).toBe(true);

    const accounts = page.locator('#host-accounts tbody tr');
    expect(await accounts.evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-account'), r.className]))).toEqual([
      ['root', 'privileged'], ['user001', 'privileged'], ['user003', 'privileged'], ['user002', ''], ['user004', ''],
    ]);
    expect(await accounts.first().locator('td[data-label=Why]').textContent()).toBe('uid 0');

    const privileged = page.locator('#host-changes li.change-privileged');
    expect(await privileged.allTextContents()).toEqual([
      'host key changed SHA256:second: SHA256:first → SHA256:second',
      'privilege changed user003: LinuxUser → Administrator',
    ]);
    expect(await page.locator('#host-changes li.change:not(.change-privileged)').allTextContents()).toEqual(['account removed user005: LinuxUser → —']);
    // Highlighted: privileged changes look different from the others.
    const background = (selector: string) => page.locator(selector).first().evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(e).backgroundColor);
    expect(await background('#host-changes li.change-privileged')).not.toBe(await background('#host-changes li.change:not(.change-privileged)'));

    expect(await page.locator('#host-detail dd[data-fact="Host key"]').textContent()).toBe('SHA256:first');
    expect(await page.locator('#host-detail dd[data-fact="Key trust"]').textContent()).toBe('a different key was presented and is not trusted (ErrorOnThumbprintMismatch)');
    expect(await page.locator('#host-detail dd[data-fact="Presented key"]').textContent()).toBe('SHA256:second');
    await shot(page, 'host-detail');
    await fits360(page, 'host-detail');
    await page.setViewportSize({ width: 1280, height: 720 });

    // A host never scanned with credentials says so.
    await page.locator('#hosts tbody tr', { hasText: 'beta' }).getByRole('button', { name: 'Details' }).click();
    await expect.poll(() => page.locator('#host-detail dd[data-fact="Scanned"]').textContent(), WAIT).toBe('never with credentials');
    expect(await page.locator('#host-accounts').isVisible()).toBe(false);
    expect(violations).toEqual([]);
    await page.close();
  });
});

describe.runIf(chromiumAvailable())('the dashboard: batches, CSV import and sign-out', () => {
  let t: TestGateway;
  let browser: Browser;
  let ssh: TestListener;
  let slow: TestListener;
  let silent: TestListener;
  let closed: number;
  const tag = randomUUID().slice(0, 6);
  const names = { quick: `quick-${tag}`, slow: `slow-${tag}`, stuck: `stuck-${tag}` };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // MFA off: a password alone signs in, so the sign-out test needs no authenticator. Two subscription
    // documents per subject: the jobs' and one batch's, so a second running batch must wait for a slot.
    t = await startTestGateway({ SCAN_TIMEOUT_MS: '30000', SIGNIN_MFA: 'off', WS_MAX_DOCUMENTS_PER_SUBJECT: '2' });
    ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 200 });
    slow = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 2000 });
    silent = await silentListener();
    closed = await closedPort();
    await t.gateway.service.upsertHosts(ADMIN, {
      hosts: [
        { name: names.quick, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed },
        { name: names.slow, ipAddress: '127.0.0.1', sshPort: slow.port, winRmPort: closed },
        { name: names.stuck, ipAddress: '127.0.0.1', sshPort: silent.port, winRmPort: silent.port },
      ],
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await ssh?.close();
    await slow?.close();
    await silent?.close();
  });

  async function signedIn() {
    const page = await browser.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    const violations = cspViolations(page);
    await page.goto(`${t.url}/`);
    await page.fill('#token', adminToken());
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    return { page, violations };
  }
  const batchItem = (page: Page, id: string) => page.locator(`#batches li[data-batch-id="${id}"]`);
  const count = (page: Page, id: string, key: string) => batchItem(page, id).locator(`dd[data-count=${key}]`).textContent();
  const serverBatch = async (id: string) =>
    (await gql(t.url, adminToken(), 'query($id: ID!) { hostScanBatch(id: $id) { total complete failed percent } }', { id })).body.data.hostScanBatch;

  it('shows the batch a scan starts with a live progress bar that ends as the gateway counts it, and again after a reload', { timeout: 60_000 }, async () => {
    const { page, violations } = await signedIn();
    await expect.poll(() => page.locator('#batches-empty').textContent(), WAIT).toMatch(/^No batches yet/);
    const reply = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('scheduleHostScans'));
    for (const name of [names.quick, names.slow]) await page.locator('#hosts tbody tr', { hasText: name }).locator('input[type=checkbox]').check();
    await page.click('#scan');
    const batchId = (await (await reply).json()).data.scheduleHostScans[0].batchId as string;
    await expect.poll(() => batchItem(page, batchId).count(), WAIT).toBe(1);
    expect(await page.locator('#batches-empty').isHidden()).toBe(true);
    await shot(page, 'batch-running');
    await expect.poll(() => batchItem(page, batchId).locator('.batch-percent').textContent(), { timeout: 20_000 }).toBe('100%');
    expect(await serverBatch(batchId)).toEqual({ total: 2, complete: 2, failed: 0, percent: 100 });
    for (const [key, value] of Object.entries({ total: '2', queued: '0', running: '0', complete: '2', failed: '0', cancelled: '0' })) {
      expect(await count(page, batchId, key), key).toBe(value);
    }
    expect(await batchItem(page, batchId).locator('progress').getAttribute('value')).toBe('100');
    expect(await batchItem(page, batchId).locator('.batch-eta').textContent()).toBe('done');
    await shot(page, 'batch-done');

    await page.reload();
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    await expect.poll(() => batchItem(page, batchId).locator('.batch-percent').textContent(), WAIT).toBe('100%');
    expect(await count(page, batchId, 'complete')).toBe('2');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('a batch the gateway will not stream yet shows its state, and goes live when another batch ends', { timeout: 60_000 }, async () => {
    const { page } = await signedIn();
    const scheduleStuck = async () => {
      const reply = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('scheduleHostScans'));
      await page.locator('#hosts tbody tr', { hasText: names.stuck }).locator('input[type=checkbox]').check();
      await page.click('#scan');
      return (await (await reply).json()).data.scheduleHostScans[0] as { id: string; batchId: string };
    };
    // A host that never answers: its job stays open until cancelled, and the second call's batch holds it too.
    const { id: job, batchId: first } = await scheduleStuck();
    await expect.poll(() => count(page, first, 'total'), WAIT).toBe('1');
    const { batchId: second } = await scheduleStuck();
    await expect.poll(() => batchItem(page, second).locator('.batch-error').textContent(), WAIT).toMatch(/^No live progress yet: .*distinct subscriptions/);
    expect(await count(page, second, 'total')).toBe('1');
    await shot(page, 'batch-waiting');
    await gql(t.url, adminToken(), 'mutation($id: ID!) { cancelHostScanJob(id: $id) { id } }', { id: job });
    await expect.poll(() => batchItem(page, first).locator('.batch-percent').textContent(), WAIT).toBe('100%');
    await expect.poll(() => batchItem(page, second).locator('.batch-percent').textContent(), WAIT).toBe('100%');
    expect(await batchItem(page, second).locator('.batch-error').count()).toBe(0);
    expect(await count(page, second, 'cancelled')).toBe('1');
    await page.close();
  });

  it('tells an App it may not import, and stays signed in', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.url}/`);
    await page.fill('#token', appToken());
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    await page.setInputFiles('#import-file', { name: 'app.csv', mimeType: 'text/csv', buffer: Buffer.from('IP Address\n127.0.0.9\n') });
    await expect.poll(() => page.locator('#message').textContent(), WAIT).toMatch(/Admin/);
    expect(await page.locator('#connection').textContent()).toBe('live');
    expect(await page.locator('#import-problems').isHidden()).toBe(true);
    await page.close();
  });

  it('imports a CSV file: bad rows by line and field, nothing imported until the good rows alone are asked for', { timeout: 60_000 }, async () => {
    const { page, violations } = await signedIn();
    const loopbackHosts = async () => {
      const res = await gql(t.url, adminToken(), '{ hosts(first: 100, search: "127.0.0.") { nodes { name } } }');
      return (res.body.data.hosts.nodes as { name: string }[]).map((h) => h.name).filter((n) => n.startsWith('127.')).sort();
    };
    expect(await page.locator('#import-summary').textContent()).toMatch(/^Choose a CSV file/);
    // Line 3 is bad in its type, line 5 only to the gateway's ValidateImportedCSV check (no name, no address).
    const csv = `IP Address,SSH Port\n127.0.0.1,${ssh.port}\n127.0.0.3,99999\n127.0.0.2,${closed}\n,22\n`;
    await page.setInputFiles('#import-file', { name: 'hosts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await expect.poll(() => page.locator('#import-problems tbody tr').count(), WAIT).toBe(2);
    const problems = await page.locator('#import-problems tbody tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
    expect(problems).toEqual([
      ['3', 'sshPort', "'99999' is not a port number (1-65535)."],
      ['5', 'dnsHostName', 'A DNS host name or an IP address is required.'],
    ]);
    expect(await page.locator('#import-summary').textContent()).toBe('hosts.csv: 2 of 4 rows bad; nothing is imported unless you ask for the good rows only.');
    expect(await page.locator('#import-all').isHidden()).toBe(true);
    expect(await page.locator('#import-good').textContent()).toBe('Import only the 2 good rows');
    expect(await loopbackHosts()).toEqual([]);
    await shot(page, 'import-bad-rows');

    const reply = page.waitForResponse((r) => r.url().endsWith('/ImportCSV') && (r.request().postData() ?? '').includes('"importGood":true'));
    await page.click('#import-good');
    const report = await (await reply).json();
    await expect.poll(() => page.locator('#import-summary').textContent(), WAIT).toBe('Imported 2 hosts from hosts.csv in 1 job; 2 bad rows skipped.');
    expect(await loopbackHosts()).toEqual(['127.0.0.1', '127.0.0.2']);
    // The import's batch is followed like a scan's.
    const batchId = report.jobs[0].batchId as string;
    await expect.poll(() => batchItem(page, batchId).locator('.batch-percent').textContent(), { timeout: 20_000 }).toBe('100%');
    expect(await count(page, batchId, 'total')).toBe('2');
    expect(await page.locator('#import-good').isHidden()).toBe(true);
    await shot(page, 'import-done');

    // A file with no bad row is offered whole.
    await page.setInputFiles('#import-file', { name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(`IP Address,SSH Port\n127.0.0.4,${closed}\n`) });
    await expect.poll(() => page.locator('#import-summary').textContent(), WAIT).toBe('good.csv: every row is good (1).');
    expect(await page.locator('#import-problems').isHidden()).toBe(true);
    expect(await page.locator('#import-good').isHidden()).toBe(true);
    await page.click('#import-all');
    await expect.poll(() => page.locator('#import-summary').textContent(), WAIT).toBe('Imported 1 host from good.csv in 1 job.');
    expect(await loopbackHosts()).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.4']);
    expect(violations).toEqual([]);
    await page.close();
  });

  it('signs out: token, data and remembered batches forgotten, the live socket closed, the sign-in form back', { timeout: 60_000 }, async () => {
    const login = `out-${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    await t.gateway.accounts.createUser(ADMIN, { login, password, roles: ['Admin'] });
    const page = await browser.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    const sockets: WebSocket[] = [];
    page.on('websocket', (ws) => sockets.push(ws));
    const stored = (key: string) => page.evaluate<string | null>(`sessionStorage.getItem('${key}')`);
    await page.goto(`${t.url}/`);
    expect(await page.locator('#signout').isHidden()).toBe(true);
    await page.fill('#login', login);
    await page.fill('#password', password);
    await page.click('#signin-form button[type=submit]');
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
    await page.locator('#hosts tbody tr', { hasText: names.quick }).locator('input[type=checkbox]').check();
    await page.click('#scan');
    await expect.poll(() => page.locator('#batches li').count(), WAIT).toBe(1);
    expect(await stored('scan-gateway-token')).not.toBeNull();
    expect(await stored('scan-gateway-batches')).not.toBeNull();
    expect(await page.locator('#signout').isVisible()).toBe(true);

    await page.click('#signout');
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('not connected');
    expect(await stored('scan-gateway-token')).toBeNull();
    expect(await stored('scan-gateway-batches')).toBeNull();
    for (const table of ['hosts', 'jobs']) expect(await page.locator(`#${table} tbody tr`).count(), table).toBe(0);
    expect(await page.locator('#batches li').count()).toBe(0);
    expect(await page.locator('#batches-empty').textContent()).toMatch(/^Not connected/);
    expect(await page.locator('#signin-form').isVisible()).toBe(true);
    expect(await page.locator('#signout').isHidden()).toBe(true);
    expect(await page.inputValue('#token')).toBe('');
    expect(await page.inputValue('#login')).toBe('');
    expect(await page.locator('#message').isHidden()).toBe(true);
    await expect.poll(() => sockets.length > 0 && sockets.every((ws) => ws.isClosed()), WAIT).toBe(true);
    await shot(page, 'signed-out');
    await page.close();
  });

  it('fits 360 px with a batch in progress, the CSV import report and the sign-in form', { timeout: 60_000 }, async () => {
    const { page, violations } = await signedIn();
    await page.setViewportSize({ width: 360, height: 800 });
    const reply = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('scheduleHostScans'));
    for (const name of [names.quick, names.slow]) await page.locator('#hosts tbody tr', { hasText: name }).locator('input[type=checkbox]').check();
    await page.click('#scan');
    const batchId = (await (await reply).json()).data.scheduleHostScans[0].batchId as string;
    // Progress shown: the counts are in, and the bar has a value.
    await expect.poll(() => count(page, batchId, 'total'), WAIT).toBe('2');
    await expect.poll(() => batchItem(page, batchId).locator('progress').getAttribute('value'), WAIT).not.toBeNull();
    await fits360(page, 'batch');

    // The longest report: every kind of problem, nothing imported (no button pressed).
    const csv = `IP Address,SSH Port,Platform\n127.0.0.3,99999,Linux\n,22,Linux\n127.0.0.6,22,a-platform-name-no-gateway-knows-of-at-all\n`;
    await page.setInputFiles('#import-file', { name: 'a-rather-long-file-name-of-hosts-to-import.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await expect.poll(() => page.locator('#import-problems tbody tr').count(), WAIT).toBeGreaterThanOrEqual(2);
    await fits360(page, 'import-report');

    await page.click('#signout');
    await expect.poll(() => page.locator('#signin-form').isVisible(), WAIT).toBe(true);
    await fits360(page, 'signed-out');
    expect(violations).toEqual([]);
    await page.close();
  });
});
