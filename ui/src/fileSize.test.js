// Every file under ui/src stays small enough to read in one go (issue #21).
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const MAX_LINES = 250;
const srcDir = path.dirname(new URL(import.meta.url).pathname);

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? files(p) : [p];
  });
}

/** Lines as `wc -l` counts them, plus an unterminated last line. */
const lineCount = (text) => (text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0));

it(`no file under ui/src is longer than ${MAX_LINES} lines`, () => {
  const all = files(srcDir);
  expect(all.length).toBeGreaterThan(20);
  const long = all
    .map((p) => [path.relative(srcDir, p), lineCount(fs.readFileSync(p, 'utf8'))])
    .filter(([, n]) => n > MAX_LINES)
    .map(([p, n]) => `${p}: ${n} lines`);
  expect(long).toEqual([]);
});
