#!/usr/bin/env node
/*
 * ui_check.js - loads a dashboard page in headless Chromium (Debian's `chromium`, driven over
 * the DevTools protocol on a pipe: no driver library, nothing downloaded) and checks it:
 * no console error, exception, failed load or CSP violation while the page runs; every
 * --text appears in the page within the deadline; with --live, events arrive on the page's
 * event stream without a reload. Saves a screenshot to --shot. Exits 0 when every check held,
 * 1 otherwise (saying which), 2 on a usage error.
 *
 * Usage: node tools/ui_check.js --url URL --shot FILE.png [--text TEXT]... [--live N]
 *        [--timeout-s S]
 */
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function usage(msg) {
  process.stderr.write('ui_check: ' + msg + '\n');
  process.exit(2);
}

function argsParse(argv) {
  const a = { texts: [], live: 0, timeoutS: 60, url: null, shot: null };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--url': a.url = v; i++; break;
      case '--shot': a.shot = v; i++; break;
      case '--text': a.texts.push(v); i++; break;
      case '--live': a.live = Number(v); i++; break;
      case '--timeout-s': a.timeoutS = Number(v); i++; break;
      default: usage('unknown argument ' + argv[i]);
    }
  }
  if (!a.url || !a.shot) {
    usage('--url and --shot are required');
  }
  return a;
}

/* One DevTools connection over Chromium's --remote-debugging-pipe (fd 3 in, fd 4 out;
 * messages are JSON ended by a NUL byte). */
class Cdp {
  constructor(child) {
    this.out = child.stdio[3];
    this.nextId = 1;
    this.waiting = new Map();
    this.listeners = [];
    let pending = Buffer.alloc(0);
    child.stdio[4].on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      let end;
      while ((end = pending.indexOf(0)) >= 0) {
        const msg = JSON.parse(pending.subarray(0, end).toString('utf8'));
        pending = pending.subarray(end + 1);
        this.dispatch(msg);
      }
    });
  }

  dispatch(msg) {
    if (msg.id !== undefined && this.waiting.has(msg.id)) {
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.error) {
        w.reject(new Error(w.method + ': ' + msg.error.message));
      } else {
        w.resolve(msg.result);
      }
      return;
    }
    for (const l of this.listeners) {
      l(msg);
    }
  }

  send(method, params, sessionId) {
    const id = this.nextId++;
    const msg = { id, method, params: params || {} };
    if (sessionId) {
      msg.sessionId = sessionId;
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, method });
      this.out.write(JSON.stringify(msg) + '\0');
    });
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function evaluate(cdp, sid, expr) {
  const r = await cdp.send('Runtime.evaluate', { expression: expr, returnByValue: true }, sid);
  return r.result ? r.result.value : undefined;
}

async function waitFor(what, deadline, fn) {
  while (Date.now() < deadline) {
    if (await fn()) {
      return true;
    }
    await sleep(250);
  }
  throw new Error('timed out waiting for ' + what);
}

async function run(a, cdp, problems) {
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId: sid } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  cdp.sid = sid;
  cdp.listeners.push((m) => {
    if (m.sessionId !== sid) {
      return;
    }
    const p = m.params || {};
    if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
      problems.push('console.' + p.type + ': ' + (p.args || []).map((x) => x.value || x.description).join(' '));
    } else if (m.method === 'Runtime.exceptionThrown') {
      const d = p.exceptionDetails || {};
      problems.push('exception: ' + (d.exception ? d.exception.description : d.text));
    } else if (m.method === 'Log.entryAdded' && p.entry && p.entry.level === 'error') {
      problems.push('log: ' + p.entry.source + ': ' + p.entry.text + (p.entry.url ? ' (' + p.entry.url + ')' : ''));
    }
  });
  await cdp.send('Runtime.enable', {}, sid);
  await cdp.send('Log.enable', {}, sid);
  await cdp.send('Page.enable', {}, sid);
  await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false }, sid);
  await cdp.send('Page.navigate', { url: a.url }, sid);
  const deadline = Date.now() + a.timeoutS * 1000;
  await waitFor('the page to load', deadline, async () => (await evaluate(cdp, sid, 'document.readyState')) === 'complete');
  for (const t of a.texts) {
    await waitFor('"' + t + '" on the page', deadline,
      async () => (await evaluate(cdp, sid, 'document.body.innerText.includes(' + JSON.stringify(t) + ')')) === true);
    process.stdout.write('ui_check: found "' + t + '"\n');
  }
  if (a.live > 0) {
    /* The page opened its stream after loading; every row counted here came in live. */
    const count = 'document.querySelectorAll("#event-list li.ev").length';
    await waitFor(a.live + ' live events', deadline, async () => (await evaluate(cdp, sid, count)) >= a.live);
    process.stdout.write('ui_check: ' + (await evaluate(cdp, sid, count)) + ' live events arrived without a reload\n');
  }
}

async function screenshot(a, cdp) {
  if (cdp.sid === undefined) {
    return;
  }
  const shot = await cdp.send('Page.captureScreenshot', { format: 'png' }, cdp.sid);
  fs.writeFileSync(a.shot, Buffer.from(shot.data, 'base64'));
  process.stdout.write('ui_check: screenshot ' + a.shot + '\n');
}

async function main() {
  const a = argsParse(process.argv.slice(2));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kumo-ui-check-'));
  const child = spawn(process.env.KUMO_CHROMIUM || 'chromium', [
    '--headless=new', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu',
    '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check',
    '--disable-background-networking', '--disable-extensions', '--disable-sync',
    '--user-data-dir=' + profile, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const problems = [];
  let rc = 0;
  const guard = setTimeout(() => {
    process.stderr.write('ui_check: FAILED: no answer from chromium\n' + stderr);
    child.kill('SIGKILL');
    process.exit(1);
  }, (a.timeoutS + 30) * 1000);
  const cdp = new Cdp(child);
  try {
    await run(a, cdp, problems);
  } catch (e) {
    problems.push(String(e.message || e));
  }
  /* Taken pass or fail: a failing page is the one worth looking at. */
  await sleep(500);
  await screenshot(a, cdp).catch((e) => problems.push('screenshot: ' + e.message));
  clearTimeout(guard);
  for (const p of problems) {
    process.stderr.write('ui_check: FAILED: ' + a.url + ': ' + p + '\n');
    rc = 1;
  }
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(10000)]);
  try {
    /* Chromium's helper processes may still be writing the profile: best effort. */
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (e) {
    process.stderr.write('ui_check: left ' + profile + ': ' + e.message + '\n');
  }
  process.exit(rc);
}

main();
