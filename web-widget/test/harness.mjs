// Shared helpers for the browser tests: real switchboard binaries and real Redis
// servers on free loopback ports, Debian's chromium through playwright-core (never a
// downloaded browser), plain WebSocket agents and customers, axe-core, screenshots.
//
// Every process started here is killed when the test process exits, whatever way
// it exits, so a failed test leaves no server behind.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);

/** Absolute path of the repository's root (the folder holding Cargo.toml). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of `web-widget/`. */
export const widgetRoot = path.join(repoRoot, 'web-widget');

/**
 * Path of the switchboard binary the tests run: `$SWITCHBOARD_BIN`, or
 * `<repo>/target/debug/switchboard` (`cargo build --locked --bin switchboard`).
 */
export const BIN = process.env.SWITCHBOARD_BIN || path.join(repoRoot, 'target', 'debug', 'switchboard');

/** Path of the browser: `$CHROMIUM_PATH`, or Debian's `/usr/bin/chromium`. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Arguments chromium is launched with (headless is set by playwright). */
export const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]);

/** Where screenshots go: `web-widget/test-output/screenshots/` (gitignored). */
export const SCREENSHOT_DIR = path.join(widgetRoot, 'test-output', 'screenshots');

// ---------------------------------------------------------------------------
// Leftover processes and temp dirs, cleaned up at exit.

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
/** @type {Set<string>} */
const tempDirs = new Set();

function cleanUp() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}
process.on('exit', cleanUp);
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal);
  });
}

/** @param {string} prefix */
function makeTempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** @param {string} line */
function stripAnsi(line) {
  // eslint-disable-next-line no-control-regex
  return line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/**
 * Resolves when the child has exited (at once if it already has).
 * @param {import('node:child_process').ChildProcess} child
 * @returns {Promise<void>}
 */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Sends `signal`, waits for the exit; SIGKILL after `graceMs`.
 * @param {import('node:child_process').ChildProcess} child
 * @param {NodeJS.Signals} signal
 * @param {number} graceMs
 */
async function terminate(child, signal, graceMs = 10_000) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, graceMs, 'late');
    });
    if ((await Promise.race([exited(child), late])) === 'late') {
      child.kill('SIGKILL');
      await exited(child);
    }
    clearTimeout(timer);
  }
  children.delete(child);
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A free TCP port on 127.0.0.1 (listen on 0, read the port, close).
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// switchboard

/**
 * A running switchboard node.
 * @typedef {object} Server
 * @property {number} port the port it listens on (the same after `restart()`)
 * @property {string} httpUrl `http://127.0.0.1:PORT`
 * @property {string} wsUrl `ws://127.0.0.1:PORT` (append `/ws/customer` or `/ws/agent`)
 * @property {string[]} logs every stderr (and stdout) line, ANSI colours removed,
 *   across restarts (a `--- restart ---` line between two runs)
 * @property {string} configPath the TOML file it was started with
 * @property {import('node:child_process').ChildProcess} process the current process
 * @property {() => Promise<void>} stop SIGTERM, then wait for the exit (SIGKILL after 10 s)
 * @property {() => Promise<void>} kill SIGKILL, then wait for the exit
 * @property {() => Promise<void>} restart stop, then start again on the same port
 *   with the same configuration, Redis URL and environment
 */

/**
 * Starts `BIN serve --config FILE --listen 127.0.0.1:PORT [--redis-url URL]` and
 * waits for its `listening on 127.0.0.1:NNNN` log line.
 *
 * The environment is this process's without any inherited `SWITCHBOARD_*` variable
 * (they would change the configuration under test; `SWITCHBOARD_LOG` is kept), plus
 * `env`; `SWITCHBOARD_LOG` is `info` unless given either way.
 *
 * @param {object} [options]
 * @param {string} [options.config] TOML text of the configuration file (roster etc.)
 * @param {string} [options.redisUrl] turns on the Redis store (`--redis-url`)
 * @param {Record<string, string>} [options.env] extra environment variables
 * @param {number} [options.port] 0 (the default) lets the server pick a free port
 * @returns {Promise<Server>} rejects with the collected log if the process exits
 *   before listening, or after 20 s
 */
export async function startServer({ config = '', redisUrl, env = {}, port = 0 } = {}) {
  const dir = makeTempDir('switchboard-test-');
  const configPath = path.join(dir, 'switchboard.toml');
  writeFileSync(configPath, config);

  /** @type {Record<string, string>} */
  const childEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key.startsWith('SWITCHBOARD_') && key !== 'SWITCHBOARD_LOG') continue;
    childEnv[key] = value;
  }
  Object.assign(childEnv, env);
  delete childEnv.SWITCHBOARD_LISTEN;
  childEnv.SWITCHBOARD_LOG ||= 'info';
  childEnv.NO_COLOR = '1';

  /** @type {string[]} */
  const logs = [];

  /** @param {number} listenPort */
  const launch = (listenPort) => {
    const args = ['serve', '--config', configPath, '--listen', `127.0.0.1:${listenPort}`];
    if (redisUrl) args.push('--redis-url', redisUrl);
    const child = spawn(BIN, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    /** @type {Promise<number>} */
    const ready = new Promise((resolve, reject) => {
      let done = false;
      const fail = (/** @type {string} */ why) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new Error(`switchboard ${args.join(' ')}: ${why}\n--- its log ---\n${logs.join('\n')}`));
      };
      const timer = setTimeout(() => {
        fail('not listening after 20 s');
        child.kill('SIGKILL');
      }, 20_000);
      child.once('error', (e) => fail(`cannot start ${BIN}: ${e.message}`));
      child.once('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before listening`));
      for (const stream of [child.stderr, child.stdout]) {
        if (!stream) continue;
        readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (raw) => {
          const line = stripAnsi(raw);
          logs.push(line);
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
          if (m && !done) {
            done = true;
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
      }
    });
    return { child, ready };
  };

  let { child, ready } = launch(port);
  const boundPort = await ready;

  /** @type {Server} */
  const server = {
    port: boundPort,
    httpUrl: `http://127.0.0.1:${boundPort}`,
    wsUrl: `ws://127.0.0.1:${boundPort}`,
    logs,
    configPath,
    process: child,
    async stop() {
      await terminate(server.process, 'SIGTERM');
    },
    async kill() {
      await terminate(server.process, 'SIGKILL');
    },
    async restart() {
      await server.stop();
      // The port was just released: a bind can still fail for a moment.
      const deadline = Date.now() + 10_000;
      for (;;) {
        logs.push('--- restart ---');
        ({ child, ready } = launch(server.port));
        server.process = child;
        try {
          await ready;
          return;
        } catch (e) {
          const inUse = logs.slice(-5).some((l) => /address already in use|os error 98/i.test(l));
          if (!inUse || Date.now() > deadline) throw e;
          await sleep(200);
        }
      }
    },
  };
  return server;
}

/**
 * TOML for a roster, one `[[agents]]` table per agent.
 * @param {Array<{id: string, name?: string, token: string, skills: string[], languages?: string[], capacity?: number, role?: string}>} agents
 * @returns {string}
 */
export function agentsToml(agents) {
  const q = (/** @type {string} */ s) => JSON.stringify(s);
  const list = (/** @type {string[]} */ xs) => `[${xs.map(q).join(', ')}]`;
  return agents
    .map((a) =>
      [
        '[[agents]]',
        `id = ${q(a.id)}`,
        `name = ${q(a.name ?? a.id)}`,
        `token = ${q(a.token)}`,
        `skills = ${list(a.skills)}`,
        `languages = ${list(a.languages ?? ['en'])}`,
        ...(a.capacity !== undefined ? [`capacity = ${a.capacity}`] : []),
        ...(a.role !== undefined ? [`role = ${q(a.role)}`] : []),
        '',
      ].join('\n'),
    )
    .join('\n');
}

// ---------------------------------------------------------------------------
// Redis

/**
 * A running redis-server.
 * @typedef {object} Redis
 * @property {number} port
 * @property {string} url `redis://127.0.0.1:PORT/`
 * @property {string[]} logs its output lines
 * @property {import('node:child_process').ChildProcess} process the redis-server
 *   process (SIGSTOP it to make Redis stop answering for a while)
 * @property {() => Promise<void>} stop SIGTERM, then wait for the exit
 * @property {() => Promise<void>} kill SIGKILL, then wait for the exit
 */

/**
 * Sends an inline `PING` and resolves true on `+PONG`.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const finish = (/** @type {boolean} */ ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) finish(answer.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no` on a
 * free port, in a temp dir, and waits until it answers PING with PONG (10 s).
 * @returns {Promise<Redis>}
 */
export async function startRedis() {
  const dir = makeTempDir('switchboard-redis-');
  /** @type {string[]} */
  const logs = [];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    let spawnError = '';
    child.once('error', (e) => {
      spawnError = e.message;
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (l) => logs.push(l));
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null && !spawnError) {
      if (await redisPing(port)) {
        return {
          port,
          url: `redis://127.0.0.1:${port}/`,
          logs,
          process: child,
          stop: () => terminate(child, 'SIGTERM'),
          kill: () => terminate(child, 'SIGKILL'),
        };
      }
      await sleep(50);
    }
    await terminate(child, 'SIGKILL');
    // Another process may have taken the free port in between: try again.
    const taken = logs.some((l) => /address already in use/i.test(l));
    if (!taken || attempt >= 3) {
      throw new Error(`redis-server ${args.join(' ')}: no PONG${spawnError ? ` (${spawnError})` : ''}\n${logs.join('\n')}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Browser

/**
 * Launches Debian's chromium (`$CHROMIUM_PATH` or `/usr/bin/chromium`) headless
 * through playwright-core, with `CHROMIUM_ARGS`. Close it with `browser.close()`.
 * @param {import('playwright-core').LaunchOptions} [options] merged over the defaults
 * @returns {Promise<import('playwright-core').Browser>}
 */
export function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    ...options,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}

// ---------------------------------------------------------------------------
// WebSocket clients

/**
 * A protocol client over the `ws` package, keeping every frame it receives.
 * @typedef {object} WsClient
 * @property {WebSocket} ws the socket itself
 * @property {any[]} frames every parsed frame received, in order (a frame that is
 *   not JSON is kept as `{type: '<not json>', raw}`)
 * @property {any} welcome the `welcome` frame that answered the hello
 * @property {(frame: object | string) => void} send sends a frame (an object is JSON-encoded)
 * @property {(predicate: string | ((frame: any) => boolean), timeoutMs?: number) => Promise<any>} next
 *   resolves with the first frame not yet taken by an earlier `next()` that matches
 *   (a string matches `frame.type`), whether it arrived before the call or after;
 *   rejects after `timeoutMs` (10 s) or when the socket closes, listing the recent frames
 * @property {() => Promise<void>} close closes the socket and waits until it is closed
 * @property {Promise<{code: number, reason: string}>} closed resolves when the socket closes
 */

/**
 * Connects to `url`, sends `hello` and waits for the `welcome` (10 s).
 * Rejects if the server answers with an `error` frame or closes first.
 * @param {string} url
 * @param {object} hello
 * @returns {Promise<WsClient>}
 */
export function wsClient(url, hello) {
  const ws = new WebSocket(url);
  /** @type {any[]} */
  const frames = [];
  /** @type {boolean[]} */
  const taken = [];
  let firstFree = 0;
  /** @type {Array<{match: (f: any) => boolean, resolve: (f: any) => void, reject: (e: Error) => void}>} */
  let waiters = [];
  /** @type {{code: number, reason: string} | null} */
  let closedWith = null;
  /** @type {(v: {code: number, reason: string}) => void} */
  let resolveClosed = () => {};
  /** @type {Promise<{code: number, reason: string}>} */
  const closed = new Promise((resolve) => {
    resolveClosed = resolve;
  });

  const recent = () => {
    const last = frames.slice(-12).map((f) => `  ${JSON.stringify(f)}`);
    return `${frames.length} frame(s) received from ${url}${frames.length > 12 ? ', the last 12' : ''}:\n${last.join('\n') || '  (none)'}`;
  };

  ws.on('message', (data) => {
    const text = data.toString();
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      frame = { type: '<not json>', raw: text };
    }
    const index = frames.push(frame) - 1;
    taken.push(false);
    const waiter = waiters.find((w) => w.match(frame));
    if (waiter) {
      taken[index] = true;
      waiters = waiters.filter((w) => w !== waiter);
      waiter.resolve(frame);
    }
  });
  ws.on('close', (code, reason) => {
    closedWith = { code, reason: reason.toString() };
    resolveClosed(closedWith);
    const pending = waiters;
    waiters = [];
    for (const w of pending) {
      w.reject(new Error(`socket closed (${closedWith.code} ${closedWith.reason}) while waiting; ${recent()}`));
    }
  });
  ws.on('error', () => {
    // a failed connection also closes: reported there
  });

  /** @type {WsClient['next']} */
  const next = (predicate, timeoutMs = 10_000) => {
    const match = typeof predicate === 'string' ? (/** @type {any} */ f) => f?.type === predicate : predicate;
    while (firstFree < frames.length && taken[firstFree]) firstFree++;
    for (let i = firstFree; i < frames.length; i++) {
      if (!taken[i] && match(frames[i])) {
        taken[i] = true;
        return Promise.resolve(frames[i]);
      }
    }
    const what = typeof predicate === 'string' ? `"${predicate}" frame` : `frame matching ${predicate}`;
    if (closedWith) {
      return Promise.reject(new Error(`socket closed (${closedWith.code} ${closedWith.reason}): no ${what}; ${recent()}`));
    }
    const stack = new Error().stack;
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (/** @type {any} */ f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (/** @type {Error} */ e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter);
        const e = new Error(`no ${what} within ${timeoutMs} ms; ${recent()}`);
        e.stack = `${e.message}\n${stack?.split('\n').slice(2).join('\n')}`;
        reject(e);
      }, timeoutMs);
      waiters.push(waiter);
    });
  };

  /** @type {WsClient['send']} */
  const send = (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));

  const close = async () => {
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, 5000, 'late');
    });
    if ((await Promise.race([closed, late])) === 'late') ws.terminate();
    clearTimeout(timer);
    await closed;
  };

  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      send(hello);
      next((f) => f?.type === 'welcome' || f?.type === 'error').then(
        (first) => {
          if (first.type !== 'welcome') {
            ws.terminate();
            reject(new Error(`${url}: hello ${JSON.stringify(hello)} answered with ${JSON.stringify(first)}`));
            return;
          }
          resolve({ ws, frames, welcome: first, send, next, close, closed });
        },
        (e) => {
          ws.terminate();
          reject(e);
        },
      );
    });
    // After the welcome these are no-ops (a settled promise stays settled).
    ws.once('close', (code, reason) => {
      reject(new Error(`${url}: closed (${code} ${reason.toString()}) before the welcome; ${recent()}`));
    });
    ws.once('error', (e) => {
      if (ws.readyState !== WebSocket.OPEN) reject(new Error(`${url}: ${e.message}`));
    });
  });
}

/**
 * An agent connected to `${wsUrl}/ws/agent`, after `{"type":"hello","token":token}`
 * was answered with `welcome` (in `.welcome`).
 * @param {string} wsUrl `ws://127.0.0.1:PORT` (`Server.wsUrl`)
 * @param {string} token the agent's roster token
 * @param {object} [extra] more `hello` fields, e.g. `{resume: [...]}`
 * @returns {Promise<WsClient>}
 */
export function agent(wsUrl, token, extra = {}) {
  return wsClient(`${wsUrl}/ws/agent`, { type: 'hello', token, ...extra });
}

/**
 * A plain WebSocket customer on `${wsUrl}/ws/customer`, after
 * `{"type":"hello","visitor_id":visitorId}` was answered with `welcome`.
 * @param {string} wsUrl `ws://127.0.0.1:PORT` (`Server.wsUrl`)
 * @param {string} visitorId
 * @param {object} [extra] more `hello` fields, e.g. `{identity, resume}`
 * @returns {Promise<WsClient>}
 */
export function customerSocket(wsUrl, visitorId, extra = {}) {
  return wsClient(`${wsUrl}/ws/customer`, { type: 'hello', visitor_id: visitorId, ...extra });
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * A request with the global fetch. An object `body` is sent as JSON (with
 * `content-type: application/json` unless given).
 * @param {string} url
 * @param {{method?: string, headers?: Record<string, string>, body?: unknown}} [options]
 * @returns {Promise<{status: number, headers: Record<string, string>, json: any, text: string}>}
 *   `json` is the parsed body, or null when it is not JSON
 */
export async function httpJson(url, { method = 'GET', headers = {}, body } = {}) {
  /** @type {Record<string, string>} */
  const h = { ...headers };
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
  }
  const res = await fetch(url, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: Object.fromEntries(res.headers), json, text };
}

// ---------------------------------------------------------------------------
// Accessibility, screenshots, polling

/** @type {string | undefined} */
let axeSource;

/**
 * Runs axe-core on the page (inside open shadow roots too) and returns the
 * violations of impact `serious` or `critical`.
 *
 * axe is injected with `page.evaluate(source)`, which the page's CSP does not
 * block (a script tag would be).
 * @param {import('playwright-core').Page} page
 * @param {unknown} [include] an axe context: a selector, or e.g.
 *   `{include: [['host-element', 'selector inside its shadow root']]}`; the whole document by default
 * @returns {Promise<Array<{id: string, impact: string, help: string, nodes: unknown[]}>>}
 *   `nodes` are axe targets (a selector, or an array of selectors through shadow roots)
 */
export async function axeSerious(page, include) {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const hasAxe = await page.evaluate(() => typeof (/** @type {any} */ (window).axe) === 'object');
  if (!hasAxe) await page.evaluate(axeSource);
  const violations = await page.evaluate(async (context) => {
    const axe = /** @type {any} */ (window).axe;
    const results = await axe.run(context ?? document, { resultTypes: ['violations'] });
    return results.violations.map((/** @type {any} */ v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((/** @type {any} */ n) => n.target),
    }));
  }, include ?? null);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Saves a PNG of the page as `web-widget/test-output/screenshots/<name>.png`.
 * @param {import('playwright-core').Page} page
 * @param {string} name file name without `.png` (characters outside `A-Za-z0-9._-` become `_`)
 * @param {import('playwright-core').PageScreenshotOptions} [options] e.g. `{fullPage: true}`
 * @returns {Promise<string>} the file's path
 */
export async function screenshot(page, name, options = {}) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
  await page.screenshot({ ...options, path: file });
  return file;
}

/**
 * Polls `fn` until it returns a truthy value, and returns that value. A throw
 * counts as falsy (its message is reported if time runs out).
 * @template T
 * @param {() => T | Promise<T>} fn
 * @param {{timeout?: number, interval?: number, message?: string}} [options]
 * @returns {Promise<T>}
 */
export async function until(fn, { timeout = 10_000, interval = 50, message } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = message ?? `condition not met: ${fn}`;
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${why} after ${timeout} ms${cause}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------
// What tests share beyond processes

/**
 * An HS256 identity token, as the exchange signs it (protocol §3), valid for an hour.
 * @param {string} secret the server's `identity_secret`
 * @param {object} claims `sub`, and `tier`, `name`… as the test needs
 */
export function identityToken(secret, claims) {
  const b64 = (/** @type {object} */ o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/**
 * Measured figures for the README: written to `web-widget/test-output/<name>.json`
 * and printed as one `# <name>: {…}` line of the test output.
 * @param {string} name
 * @param {Record<string, unknown>} figures
 */
export function writeFigures(name, figures) {
  mkdirSync(path.join(widgetRoot, 'test-output'), { recursive: true });
  writeFileSync(path.join(widgetRoot, 'test-output', `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`# ${name}: ${JSON.stringify(figures)}`);
}
