// Every language's table has the English table's keys, no blank string, and
// the same {placeholders}; the loader's launcher labels cover the same languages.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { LANGUAGES, direction, format } from '../src/i18n.js';
import { widgetRoot } from './harness.mjs';

const tables = Object.fromEntries(
  await Promise.all(LANGUAGES.map(async (lang) => [lang, (await import(`../src/i18n/${lang}.js`)).default])),
);
const placeholders = (/** @type {string} */ s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('strings', () => {
  for (const lang of LANGUAGES) {
    it(`${lang} has every key, each with text and the same placeholders`, () => {
      const en = tables.en;
      const table = tables[lang];
      assert.deepEqual(Object.keys(table).sort(), Object.keys(en).sort());
      for (const [key, text] of Object.entries(table)) {
        assert.ok(typeof text === 'string' && text.trim(), `${lang}.${key} is blank`);
        assert.deepEqual(placeholders(text), placeholders(en[key]), `${lang}.${key} placeholders`);
      }
    });
  }

  it('the loader names the launcher in the same languages', () => {
    const loader = readFileSync(path.join(widgetRoot, 'src', 'widget.js'), 'utf8');
    const listed = /const LANGUAGES = \[([^\]]+)\]/.exec(loader)?.[1].match(/'(\w+)'/g)?.map((s) => s.slice(1, -1));
    assert.deepEqual(listed, LANGUAGES);
    for (const lang of LANGUAGES) assert.match(loader, new RegExp(`\\n\\s+${lang}: \\[`), `launcher label for ${lang}`);
  });

  it('formats placeholders and lays Arabic out right to left', () => {
    assert.equal(format('{n} of {m}', { n: 1 }), '1 of {m}');
    assert.equal(direction('ar'), 'rtl');
    assert.equal(direction('en'), 'ltr');
  });
});
