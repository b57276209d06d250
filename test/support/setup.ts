import 'reflect-metadata';
import { afterAll, beforeEach, expect, inject } from 'vitest';
import { clearMark, markTest } from './worker-marks';

const marks = inject('workerMarksDir');
beforeEach(() => {
  const { testPath, currentTestName } = expect.getState();
  markTest(marks, `${testPath ?? '?'} > ${currentTestName ?? '?'}`);
});
// Registered first, so it runs after the file's own afterAll hooks (they run in reverse order).
afterAll(() => clearMark(marks));
