import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway, type ChildGateway } from './support/child';
import { freshDataDir } from './support/gateway';

// Every shell, PowerShell and JavaScript block in the README says whether this test runs it, on the line
// just above its fence: `<!-- readme-test: run -->`, or `<!-- readme-test: skip — <reason> -->`. The ones
// marked run are run in order, the shell ones in one shell (as a reader pastes them), then the JavaScript
// ones with node, with the shell's TOKEN and the job it scheduled in their environment.
const CHECKED = new Set(['sh', 'bash', 'shell', 'console', 'powershell', 'pwsh', 'ps1', 'js', 'javascript', 'mjs']);
const SHELL = new Set(['sh', 'bash', 'shell']);
const RUN = /^<!-- readme-test: run -->$/;
const SKIP = /^<!-- readme-test: skip [—–-]+ \S.* -->$/;

interface Block {
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  marker: 'run' | 'skip' | undefined;
  body: string;
}

/** The fenced blocks of a Markdown text, each with the marker on the line above its fence, if any. */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README.md:${i + 1}: a fence that is never closed`);
    const above = (lines[i - 1] ?? '').trim();
    blocks.push({
      lang: open[1]!.toLowerCase(),
      line: i + 1,
      marker: RUN.test(above) ? 'run' : SKIP.test(above) ? 'skip' : undefined,
      body: lines.slice(i + 1, end).join('\n') + '\n',
    });
    i = end;
  }
  return blocks;
}

const blocks = fencedBlocks(readFileSync('README.md', 'utf8'));
const shellBlocks = blocks.filter((b) => b.marker === 'run' && SHELL.has(b.lang)).map((b) => b.body);
const jsBlocks = blocks.filter((b) => b.marker === 'run' && (b.lang === 'js' || b.lang === 'javascript' || b.lang === 'mjs'));

function run(file: string, args: string[], env?: Record<string, string>) {
  return new Promise<string>((resolve, reject) =>
    execFile(file, args, { timeout: 30_000, env: env && { ...process.env, ...env } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}\n${stdout}`)) : resolve(stdout)),
  );
}

describe('the README examples', () => {
  let gw: ChildGateway | undefined;
  const dataDir = freshDataDir();
  afterAll(async () => {
    gw?.child.kill('SIGTERM');
    await gw?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('each say whether this test runs them (readme-test: run, or skip with the reason)', () => {
    const unmarked = blocks.filter((b) => CHECKED.has(b.lang) && !b.marker).map((b) => `README.md:${b.line} (${b.lang})`);
    expect(unmarked, 'put <!-- readme-test: run --> or <!-- readme-test: skip — <reason> --> on the line above each').toEqual([]);
    const runnable = blocks.filter((b) => b.marker === 'run' && !SHELL.has(b.lang) && !jsBlocks.includes(b));
    expect(runnable.map((b) => `README.md:${b.line} (${b.lang})`), 'marked run, but this test cannot run that language').toEqual([]);
  });

  it('run as written, in order, in one shell (then node), against a development gateway', { timeout: 90_000 }, async () => {
    expect(shellBlocks.length).toBeGreaterThanOrEqual(3);
    // As `npm start` runs it: no key configured, so it prints the tokens to paste.
    gw = await spawnGateway({ JWT_SECRET: '', DATA_DIR: dataDir });
    const deadline = Date.now() + 10_000;
    let admin: string | undefined;
    while (!(admin = gw.lines.map((l) => /^\s*Admin: (\S+)$/.exec(l)?.[1]).find(Boolean))) {
      expect(Date.now(), 'the start banner prints an Admin token').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The banner says which host is the demo and that the gateway runs its SSH server.
    expect(gw.lines.find((l) => l.startsWith('Demo host:')), 'the start banner names the demo host').toMatch(
      /^Demo host: localhost, a demo SSH server at 127\.0\.0\.1:\d+ that this process runs \(development only\)$/,
    );
    // The reader pastes the printed token; this gateway listens on a free port rather than 6500.
    const host = new URL(gw.url).host;
    const script = shellBlocks
      .map((block, i) => `echo; echo "::block ${i}"\n${block}`)
      .join('\n')
      .replaceAll('<the Admin token printed at start>', admin)
      .replaceAll('127.0.0.1:6500', host);
    const outputs = (await run('bash', ['-euo', 'pipefail', '-c', script])).split(/\n::block \d+\n/).slice(1);
    expect(outputs).toHaveLength(shellBlocks.length);
    for (const [i, out] of outputs.entries()) {
      // No ProblemDetails (they carry a title) and no GraphQL errors.
      expect(out, `block ${i}`).not.toMatch(/"title"|"errors"/);
      expect(out, `block ${i}`).toMatch(/"hostScanHostStatus"/);
    }

    // The JavaScript examples read TOKEN and JOB_ID from the environment, as the README says to set them.
    const jobId = outputs.map((out) => /"scheduleHostScans":\[\{"id":"([^"]+)"/.exec(out)?.[1]).find(Boolean);
    expect(jobId, 'a shell block scheduled a scan with GraphQL and printed its job id').toBeTruthy();
    for (const block of jsBlocks) {
      const code = block.body.replaceAll('127.0.0.1:6500', host);
      const out = await run(process.execPath, ['--input-type=module', '-e', code], { TOKEN: admin, JOB_ID: jobId! });
      expect(out, `README.md:${block.line}`).toContain(jobId);
      expect(out, `README.md:${block.line}`).toMatch(/hostScanHostStatus/);
      // The subscription completes once the job is terminal.
      expect(out.trim().split('\n').at(-1), `README.md:${block.line}`).toBe('done');
    }
    expect(jsBlocks.length, 'the GraphQL subscription example runs').toBeGreaterThanOrEqual(1);
  });
});
