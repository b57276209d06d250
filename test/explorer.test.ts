import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Principal } from '../src/auth';
import { chromiumAvailable, cspViolations, launchChromium, onlyGateway } from './support/browser';
import { startTestGateway, type TestGateway } from './support/gateway';

const ADMIN: Principal = { subject: 'setup', userName: 'setup', roles: new Set(['Admin']), expiresAt: Date.now() + 3.6e6 };
const ARTIFACTS = 'test-artifacts';
const WAIT = { timeout: 15_000 };
const VENDOR = ['react.production.min.js', 'react-dom.production.min.js', 'graphiql.min.js', 'graphiql.min.css'];

describe('the GraphQL explorer', () => {
  let dev: TestGateway;
  beforeAll(async () => {
    // No key: development, with its own Admin token for visitors on this machine. No runner: jobs stay queued.
    dev = await startTestGateway({ JWT_SECRET: '' }, { runner: false });
  });
  afterAll(() => dev?.stop());

  it('is served with a strict CSP, no inline script, and everything it loads from the gateway', async () => {
    const res = await fetch(`${dev.url}/explorer`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      expect(url, 'loaded from the gateway').toMatch(/^(\/|data:)/);
      if (url!.startsWith('/')) expect((await fetch(`${dev.url}${url}`)).status, url).toBe(200);
    }
    for (const file of VENDOR) expect((await fetch(`${dev.url}/explorer/vendor/${file}`)).status, file).toBe(200);
    expect((await fetch(`${dev.url}/explorer/vendor/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  it('is where a browser opening /graphql lands in development; Apollo Sandbox is gone', async () => {
    const res = await fetch(`${dev.url}/graphql`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/explorer');
    // An operation sent over GET is still one, whatever the client accepts besides JSON.
    const get = await fetch(`${dev.url}/graphql?query=%7B__typename%7D`, {
      headers: { accept: 'text/html, application/json', 'apollo-require-preflight': '1', authorization: `Bearer ${dev.gateway.devTokens!.admin}` },
    });
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('is never served in production', { timeout: 60_000 }, async () => {
    const prod = await startTestGateway({ NODE_ENV: 'production', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, { runner: false });
    try {
      for (const path of ['/explorer', '/explorer/explorer.js', '/explorer/vendor/graphiql.min.js']) {
        expect((await fetch(`${prod.url}${path}`)).status, path).toBe(404);
      }
      const page = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' }, redirect: 'manual' });
      expect(page.status).toBe(400);
      expect(await page.text()).not.toMatch(/explorer|sandbox|apollographql/i);
    } finally {
      await prod.stop();
    }
  });

  describe.runIf(chromiumAvailable())('in headless Chromium with no network beyond the gateway', () => {
    let browser: Browser;
    let page: Page;
    let blocked: string[];
    let violations: string[];

    const status = () => page.locator('#token-status').textContent();
    /** What the response pane shows, as text. */
    const response = () => page.locator('.graphiql-response').innerText();
    const editor = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror";
    async function run(query: string) {
      await page.locator('.graphiql-query-editor .CodeMirror').waitFor(WAIT);
      // Set the editor's text through CodeMirror itself (typing would meet its auto-closing brackets), then
      // wait for GraphiQL to parse it (it does so 100 ms after an edit), as a person's click always does.
      await page.evaluate(`${editor}.setValue(${JSON.stringify(query)})`);
      const operation = /^(subscription|mutation)\b/.exec(query)?.[1] ?? 'query';
      await expect.poll(() => page.evaluate(`${editor}.documentAST?.definitions[0]?.operation ?? null`), WAIT).toBe(operation);
      await expect.poll(() => page.evaluate(`${editor}.getValue()`), WAIT).toBe(query);
      await page.click('.graphiql-execute-button');
    }

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      browser = await launchChromium();
      page = await browser.newPage();
      page.on('pageerror', (err) => console.error('page error:', err));
      violations = cspViolations(page);
      blocked = await onlyGateway(page, dev.url);
    });
    afterAll(() => browser?.close());

    it('loads with the development token filled in and runs a query', async () => {
      await page.goto(`${dev.url}/graphql`);
      expect(new URL(page.url()).pathname).toBe('/explorer');
      await expect.poll(status, WAIT).toBe('token accepted');
      expect(await page.inputValue('#token')).toBe(dev.gateway.devTokens!.admin);
      await run('{ hosts(first: 5) { nodes { name ipAddress } } }');
      await expect.poll(response, WAIT).toMatch(/"name": "localhost"/);
      await page.screenshot({ path: `${ARTIFACTS}/explorer-query.png` });
      expect(blocked).toEqual([]);
      expect(violations).toEqual([]);
    });

    it('knows the schema (introspection with the token) for its documentation', async () => {
      await page.click('button[aria-label="Show Documentation Explorer"]');
      await expect.poll(() => page.locator('.graphiql-doc-explorer').innerText(), WAIT).toMatch(/Query/);
      await page.locator('.graphiql-doc-explorer a', { hasText: 'Subscription' }).click();
      await expect.poll(() => page.locator('.graphiql-doc-explorer').innerText(), WAIT).toMatch(/hostScanJobStatus/);
      await page.screenshot({ path: `${ARTIFACTS}/explorer-docs.png` });
    });

    it('runs a subscription over graphql-ws at /graphql', async () => {
      await run('subscription { hostScanJobStatus { id revision status hostScanHostStatus { name } } }');
      // Once the gateway has the subscription, make a job change for it to show.
      await expect.poll(() => dev.gateway.events.listenerCount, WAIT).toBeGreaterThan(0);
      const [host] = await dev.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: 'explored', ipAddress: '127.0.0.1' }] });
      await dev.gateway.service.scheduleHostScans({ ...ADMIN, address: '127.0.0.1' }, { hostIds: [host!.id] });
      await expect.poll(response, WAIT).toMatch(/"name": "explored"/);
      expect(await response()).toMatch(/"status": "Queued"/);
      await page.screenshot({ path: `${ARTIFACTS}/explorer-subscription.png` });
      await page.click('.graphiql-execute-button'); // stops the subscription
      expect(blocked).toEqual([]);
      expect(violations).toEqual([]);
    });

    it('keeps no query, variable or history on disk: a password typed as a variable leaves no trace in storage', async () => {
      const marker = `marker-password-${Date.now()}`;
      await page.locator('.graphiql-editor-tool .graphiql-editor .CodeMirror').first().waitFor({ state: 'attached', ...WAIT });
      await page.evaluate(`document.querySelector('.graphiql-editor-tool .graphiql-editor .CodeMirror').CodeMirror.setValue(${JSON.stringify(
        JSON.stringify({ input: { name: 'explorer-secret', kind: 'SshPassword', username: 'root', password: marker } }),
      )})`);
      await run('mutation ($input: CreateCredentialInput!) { createCredential(input: $input) { id name } }');
      await expect.poll(response, WAIT).toMatch(/"name": "explorer-secret"/);
      expect(await response()).not.toContain(marker);
      const stored = (await page.evaluate(
        '({ localLength: localStorage.length, local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) })',
      )) as { localLength: number; local: string; session: string };
      // GraphiQL has saved its tabs and history by now (it does so as the editors change and a run ends).
      expect(stored.localLength, `localStorage holds ${stored.local}`).toBe(0);
      expect(stored.local).not.toContain(marker);
      expect(stored.session).not.toContain(marker);
    });

    it('says when a token is refused, and queries then fail', async () => {
      await page.fill('#token', 'not-a-token');
      await page.click('#token-form button[type=submit]');
      await expect.poll(status, WAIT).toMatch(/^refused: The bearer token is malformed\./);
      expect(await page.inputValue('#token')).toBe(dev.gateway.devTokens!.admin);
      await run('{ hosts(first: 1) { nodes { name } } }');
      await expect.poll(response, WAIT).toMatch(/A bearer token is required/);
      expect(await page.evaluate("sessionStorage.getItem('scan-gateway-token')")).toBeNull();
    });
  });
});
