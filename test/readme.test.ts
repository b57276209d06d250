import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway, type ChildGateway } from './support/child';
import { freshDataDir } from './support/gateway';

// The README's shell blocks marked to run, in order: a reader pastes them into one shell.
const MARK = /<!-- readme-test: run -->\n```sh\n([\s\S]*?)```/g;
const blocks = [...readFileSync('README.md', 'utf8').matchAll(MARK)].map((m) => m[1]!);

function bash(script: string) {
  return new Promise<string>((resolve, reject) =>
    execFile('bash', ['-euo', 'pipefail', '-c', script], { timeout: 30_000 }, (err, stdout, stderr) =>
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

  it('run as written, in order, in one shell, against a development gateway', async () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    // As `npm start` runs it: no key configured, so it prints the tokens to paste.
    gw = await spawnGateway({ JWT_SECRET: '', DATA_DIR: dataDir });
    const deadline = Date.now() + 10_000;
    let admin: string | undefined;
    while (!(admin = gw.lines.map((l) => /^\s*Admin: (\S+)$/.exec(l)?.[1]).find(Boolean))) {
      expect(Date.now(), 'the start banner prints an Admin token').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The reader pastes the printed token; this gateway listens on a free port rather than 6500.
    const script = blocks
      .map((block, i) => `echo; echo "::block ${i}"\n${block}`)
      .join('\n')
      .replaceAll('<the Admin token printed at start>', admin)
      .replaceAll('127.0.0.1:6500', new URL(gw.url).host);
    const outputs = (await bash(script)).split(/\n::block \d+\n/).slice(1);
    expect(outputs).toHaveLength(blocks.length);
    for (const [i, out] of outputs.entries()) {
      // No ProblemDetails (they carry a title) and no GraphQL errors.
      expect(out, `block ${i}`).not.toMatch(/"title"|"errors"/);
      expect(out, `block ${i}`).toMatch(/"hostScanHostStatus"/);
    }
  });
});
