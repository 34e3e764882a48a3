// Runs the browser tests: every test/*.test.mjs (or the files named on the
// command line), one file at a time, with node's own test runner.
//
//   node test/run.mjs                          # all of them
//   node test/run.mjs test/harness.test.mjs    # some
//   node test/run.mjs --test-reporter=tap      # options (as --name=value) go to `node --test`
//
// `node --test test/` is not enough: on Node 18 and 20 it also runs every other
// .mjs file of the folder (harness.mjs) as a test file, and on later versions a
// folder is not a pattern at all.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith('-'));
let files = args.filter((a) => !a.startsWith('-'));
if (files.length === 0) {
  files = readdirSync(here)
    .filter((f) => f.endsWith('.test.mjs'))
    .sort()
    .map((f) => path.join(here, f));
}
if (files.length === 0) {
  console.error(`no *.test.mjs file in ${here}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...options, ...files], {
  stdio: 'inherit',
});
if (result.error) throw result.error;
process.exit(result.status ?? 1);
