import 'reflect-metadata';
import { writeSync } from 'node:fs';
import { beforeEach, expect } from 'vitest';

// A test worker that dies is reported by vitest only as "Worker exited unexpectedly", without the file,
// the test or the exit code; say them on stderr, where .ci/run gathers them when the run fails. (A death
// by signal leaves no 'exit' event; Node's own FATAL ERROR lines are gathered instead.)
let last = '(before the first test)';
beforeEach(() => {
  const { testPath, currentTestName } = expect.getState();
  last = `${testPath ?? '?'} > ${currentTestName ?? '?'}`;
});
process.on('exit', (code) => {
  if (code !== 0) writeSync(2, `\n[test worker ${process.pid}] exited with code ${code}; last test started: ${last}\n`);
});
