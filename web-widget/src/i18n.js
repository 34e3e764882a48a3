// @ts-check
/**
 * Strings shown to people: one table per language in `i18n/<lang>.js`, keyed
 * by name, loaded on demand so a customer downloads only their own language.
 */

/** @typedef {typeof import('./i18n/en.js').default} Strings */
/** @typedef {keyof Strings} StringKey */

/** Languages with a table, as `data-language` and `start.language` name them. */
export const LANGUAGES = ['en', 'zh', 'ru', 'es', 'tr', 'vi', 'ar'];

/** Written right to left. */
const RTL = new Set(['ar']);

/** @param {string} lang */
export function direction(lang) {
  return RTL.has(lang) ? 'rtl' : 'ltr';
}

/**
 * @param {string} lang one of LANGUAGES
 * @returns {Promise<Strings>}
 */
export async function loadStrings(lang) {
  const code = LANGUAGES.includes(lang) ? lang : 'en';
  const module = await import(`./i18n/${code}.js`);
  return module.default;
}

/**
 * `template` with `{name}` replaced by `vars.name`.
 * @param {string} template
 * @param {Record<string, string | number>} [vars]
 */
export function format(template, vars = {}) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
