/**
 * The map's frame budget at city scale: a baseline build and a candidate build of the
 * site, each fed the same synthetic fleet (`feed.ts`) through its own `/ws`, measured in
 * alternating runs in Debian's headless Chromium, beside a plain-JavaScript Leaflet page
 * fed the same frames (`plain/`: canvas circle markers, no framework, no wasm). Run it with
 * `scripts/bench-browser.sh`, which builds both; it prints medians and ratios, and writes
 * them as JSON.
 *
 * Per run, over a window of `BENCH_DELTAS` delta frames once the snapshot is drawn:
 * - main-thread work per delta frame, from a Chromium trace: the task that receives a
 *   delta, from its message event to its end (parse and apply, with the microtasks they
 *   queue; alone it is `deltaTaskMs`), plus the next animation-frame task (animation
 *   callbacks, style, layout, paint, commit); median and p95 over the deltas, on the wall
 *   clock and on the main thread's own (`frameCosts` says why both). Playwright's
 *   hand-over of the frame to its stand-in socket (`routeWebSocket`), which comes before
 *   the message event in the same task, is not the page's work and is left out here;
 * - the p95 of every animation-frame task, since vehicles glide between deltas;
 * - main-thread work per delta in total: Chromium's `TaskDuration` (every main-thread
 *   task, the hand-over included) divided by the deltas, so it counts the glide frames too;
 * - animation: frames per second and the share of display frames missed, from a
 *   `requestAnimationFrame` probe; the slowest frame interval;
 * - the longest task (`longtask` entries, 50 ms and over) and the JS heap at the end.
 *
 * And apart, start-up against a real server (`first vehicle, real server`): each page
 * opened on a server of its own build running the simulator with the same number of
 * vehicles (the plain page on the candidate's), its `/ws` not routed, since Playwright's
 * stand-in socket delays the first frame by more than the page takes. Measured: the
 * first vehicle painted, the longest task until then, and the longest task from the
 * snapshot's arrival (applying it must not be one). Each page is then loaded again under a
 * trace, for the same two windows on the main thread's own clock and for V8's compilation
 * of the wasm on other threads (`startCosts`).
 */
import { test, type Browser, type CDPSession, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { root, startProcess, type Running } from '../server';
import { SyntheticFleet, type Wire } from './feed';
import { VERSION } from '../wire';

// The smoke pass (`BENCH_SMOKE=1`, run by scripts/test.sh) only proves the benchmark still
// works: a small fleet, one pair, one scenario, a few deltas. Its figures mean nothing.
const SMOKE = process.env.BENCH_SMOKE === '1';
const VEHICLES = Number(process.env.BENCH_VEHICLES ?? (SMOKE ? 300 : 3000));
const PAIRS = Number(process.env.BENCH_PAIRS ?? (SMOKE ? 1 : 5));
const DELTAS = Number(process.env.BENCH_DELTAS ?? (SMOKE ? 4 : 32));
const TICK_MS = 250;
const WARM_UP_DELTAS = 8;

/** A build of the site served by its server, or (`plain`) the plain page, served here. */
type Build = { name: string; binary: string; site: string; wire: Wire; plain?: boolean };
const builds: Build[] = [
  {
    name: 'baseline',
    binary: need('BENCH_BASE_BIN'),
    site: need('BENCH_BASE_SITE'),
    // Builds before the binary frames read JSON, older binary ones an older version;
    // scripts/bench-browser.sh says which.
    wire: baseWire(process.env.BENCH_BASE_WIRE),
  },
  { name: 'candidate', binary: need('BENCH_BIN'), site: need('BENCH_SITE'), wire: VERSION },
  { name: 'plain', binary: '', site: '', wire: VERSION, plain: true },
];
/**
 * Where the plain page is served from: under the candidate's server, by the benchmark
 * through Playwright's routing, so that its `/ws` is that server's (or the stand-in).
 */
const PLAIN_PATH = '/plain-bench/';
const PLAIN_FILES: Record<string, [string, string]> = {
  '': [path.join(__dirname, 'plain', 'index.html'), 'text/html'],
  'plain.js': [path.join(__dirname, 'plain', 'plain.js'), 'text/javascript'],
  'leaflet/leaflet.js': [path.join(root, 'node_modules', 'leaflet', 'dist', 'leaflet.js'), 'text/javascript'],
  'leaflet/leaflet.css': [path.join(root, 'node_modules', 'leaflet', 'dist', 'leaflet.css'), 'text/css'],
};

/** Where the map looks: the start view, the whole region (every vehicle in view), streets. */
const SCENARIOS: { name: string; view?: [number, number, number] }[] = [
  { name: 'city (start view, zoom 12)' },
  { name: 'region (zoom 11, all in view)', view: [60.2, 24.95, 11] },
  { name: 'streets (zoom 14, labels)', view: [60.17, 24.94, 14] },
];

type Run = {
  deltaTaskMs: number;
  deltaFrameMs: number;
  deltaFrameP95Ms: number;
  /** The same frames in the main thread's CPU time: their wall time less its waits (see `frameCosts`). */
  deltaFrameCpuMs: number;
  deltaFrameCpuP95Ms: number;
  frameP95Ms: number;
  taskMsPerDelta: number;
  scriptMsPerDelta: number;
  fps: number;
  missedShare: number;
  slowestFrameMs: number;
  longestTaskMs: number;
  heapMb: number;
  /** From navigation to the first vehicle painted (the page's User Timing mark; NaN for builds without it). */
  firstVehicleMs: number;
  /** The longest task from navigation until the whole fleet is shown (start-up and snapshot). */
  startLongestTaskMs: number;
  /** The longest task that began after the snapshot arrived (real-server runs only). */
  snapshotLongestTaskMs: number;
  /**
   * The same two windows in a second load under a trace (real-server runs only,
   * `startCosts`): the longest task on the wall clock, and the most main-thread CPU any
   * task took.
   */
  startTracedLongestTaskMs: number;
  startTracedMostCpuMs: number;
  snapshotTracedLongestTaskMs: number;
  snapshotTracedMostCpuMs: number;
  /**
   * In that traced load, V8's background compilation of the page's wasm (its optimizing
   * tier, for the functions that turned hot), in CPU time, until half a second after the
   * first vehicle: work of the page's that competes with its main thread for the cores.
   */
  startWasmCompileCpuMs: number;
};

/** `json`, or the binary format version the baseline reads (the current one by default). */
function baseWire(named: string | undefined): Wire {
  if (named === 'json') return 'json';
  if (named === '1') return 1;
  return VERSION;
}

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the benchmark with scripts/bench-browser.sh`);
  return value;
}

test.describe.configure({ mode: 'serial', timeout: 30 * 60_000 });

const servers = new Map<string, Running>();
const results: Record<string, Record<string, Run[]>> = {};

test.beforeAll(async () => {
  for (const build of builds.filter((b) => !b.plain)) {
    // The server's own feed is not used (the page's /ws is answered by the benchmark).
    const args = ['--bind', '127.0.0.1:0', '--site-root', build.site, '--source', 'simulator', '--sim-vehicles', '1'];
    servers.set(build.name, await startProcess(build.binary, args, /serving the map at (http:\/\/\S+)/));
  }
});

test.afterAll(async () => {
  for (const server of servers.values()) await server.stop();
  report();
});

for (const scenario of SMOKE ? SCENARIOS.slice(0, 1) : SCENARIOS) {
  test(scenario.name, async ({ browser }) => {
    for (let pair = 0; pair < PAIRS; pair++) {
      // Rotate the order, so drift on a shared machine falls on every page alike.
      const order = builds.map((_, i) => builds[(i + pair) % builds.length]);
      for (const build of order) {
        const run = await measure(browser, build, scenario.view);
        ((results[scenario.name] ??= {})[build.name] ??= []).push(run);
        console.log(`${scenario.name} · ${build.name} · pair ${pair + 1}: ${summary(run)}`);
      }
    }
  });
}

const REAL_SERVER = 'first vehicle, real server';
test(REAL_SERVER, async ({ browser }) => {
  // Servers of each build with their own simulated fleet. The candidate's also serves the
  // plain page (a copy of its site with the page added): a page the benchmark served
  // itself would count as a public one, which Chromium forbids to reach a loopback server.
  const plainSite = path.join(root, 'target', 'bench', 'plain-site');
  fs.rmSync(plainSite, { recursive: true, force: true });
  fs.cpSync(builds.find((b) => b.name === 'candidate')!.site, plainSite, { recursive: true });
  for (const [name, [file]] of Object.entries(PLAIN_FILES)) {
    const into = path.join(plainSite, PLAIN_PATH, name === '' ? 'index.html' : name);
    fs.mkdirSync(path.dirname(into), { recursive: true });
    fs.copyFileSync(file, into);
  }
  const live = new Map<string, Running>();
  for (const build of builds.filter((b) => !b.plain)) {
    const site = build.name === 'candidate' ? plainSite : build.site;
    const args = ['--bind', '127.0.0.1:0', '--site-root', site, '--source', 'simulator', '--sim-vehicles', String(VEHICLES)];
    live.set(build.name, await startProcess(build.binary, args, /serving the map at (http:\/\/\S+)/));
  }
  try {
    for (let pair = 0; pair < PAIRS; pair++) {
      const order = builds.map((_, i) => builds[(i + pair) % builds.length]);
      for (const build of order) {
        const server = live.get(build.plain ? 'candidate' : build.name)!;
        const run = await startUp(browser, build, server.url);
        ((results[REAL_SERVER] ??= {})[build.name] ??= []).push(run);
        console.log(`${REAL_SERVER} · ${build.name} · pair ${pair + 1}: ${summary(run)}`);
      }
    }
  } finally {
    for (const server of live.values()) await server.stop();
    fs.rmSync(plainSite, { recursive: true, force: true });
  }
});

async function startUp(browser: Browser, build: Build, serverUrl: string): Promise<Run> {
  const load = await loadOnce(browser, build, serverUrl, false);
  // Again under a trace, for the main thread's own clock (`startCosts`). Apart, since a
  // trace adds work of its own to the page's tasks: the untraced load's figures stay the
  // ones the goals are measured by, comparable with runs before the trace.
  const costs = (await loadOnce(browser, build, serverUrl, true)).costs!;
  const none = NaN;
  return {
    deltaTaskMs: none, deltaFrameMs: none, deltaFrameP95Ms: none, deltaFrameCpuMs: none, deltaFrameCpuP95Ms: none,
    frameP95Ms: none, taskMsPerDelta: none,
    scriptMsPerDelta: none, fps: none, missedShare: none, slowestFrameMs: none, longestTaskMs: none, heapMb: none,
    firstVehicleMs: load.firstVehicle,
    startLongestTaskMs: load.start,
    snapshotLongestTaskMs: load.snapshot,
    startTracedLongestTaskMs: costs.start.wall,
    startTracedMostCpuMs: costs.start.cpu,
    snapshotTracedLongestTaskMs: costs.snapshot.wall,
    snapshotTracedMostCpuMs: costs.snapshot.cpu,
    startWasmCompileCpuMs: costs.wasmCompileCpu,
  };
}

/** One page load for `startUp`: its first vehicle and longest tasks, and with `traced` their costs from a trace. */
async function loadOnce(browser: Browser, build: Build, serverUrl: string, traced: boolean) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.route(/tile\.openstreetmap\.org/, (route) => route.fulfill({ contentType: 'image/png', body: blankTile }));
  const origin = serverUrl.replace(/\/$/, '');
  await page.addInitScript(recordStartTasks);
  // The first of these marks is the first frame's arrival, whatever listens to the socket.
  await page.addInitScript(markSocketMessages);
  // Builds from before the mark show their first vehicles without it: then the count
  // says the fleet arrived, and the first vehicle is not known.
  await page.addInitScript(signalShown, { mark: FIRST_VEHICLE_MARK, count: 1, signal: SHOWN });
  const shown = page.waitForEvent('console', { predicate: (message) => message.text() === SHOWN, timeout: 60_000 });
  if (traced) await browser.startTracing(page, { categories: [...TRACE_CATEGORIES, 'v8.wasm'] });
  await page.goto(build.plain ? origin + PLAIN_PATH : origin, { waitUntil: 'commit' });
  await shown;
  // Long tasks are reported once they end: give the last one time to.
  await page.waitForTimeout(500);
  const timings = await page.evaluate(([mark, snapshotMark, message]) => {
    const at = (name: string) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
    const tasks: [number, number][] = (window as any).__startTasks;
    const shown = at(mark);
    const firstVehicle = Number.isNaN(shown) ? performance.now() : shown;
    // Builds that open their socket early receive the snapshot long before they apply it:
    // they mark when they do. Other builds apply a frame as it arrives.
    const applied = at(snapshotMark);
    const firstFrame = Number.isNaN(applied) ? at(message) : applied;
    // Tasks under way at `from` count too: the snapshot may land in one already running.
    const longest = (from: number, to: number) =>
      Math.max(0, ...tasks.filter(([start, length]) => start + length >= from && start <= to).map(([, length]) => length));
    return { firstVehicle: shown, start: longest(0, firstVehicle), snapshot: longest(firstFrame, firstVehicle + 500) };
  }, [FIRST_VEHICLE_MARK, FIRST_SNAPSHOT_MARK, MESSAGE_MARK]);
  const costs = traced ? startCosts(JSON.parse((await browser.stopTracing()).toString('utf8'))) : undefined;
  await context.close();
  return { ...timings, costs };
}

/** Serves the plain page from the benchmark, under `origin`'s [`PLAIN_PATH`]. */
async function routePlain(page: Page, origin: string) {
  await page.route(`${origin}${PLAIN_PATH}**`, (route) => {
    const file = PLAIN_FILES[new URL(route.request().url()).pathname.slice(PLAIN_PATH.length)];
    return file ? route.fulfill({ path: file[0], contentType: file[1] }) : route.fulfill({ status: 404 });
  });
}

async function measure(browser: Browser, build: Build, view?: [number, number, number]): Promise<Run> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const feed = await feedPage(page, build.wire);
  const origin = servers.get(build.plain ? 'candidate' : build.name)!.url.replace(/\/$/, '');
  if (build.plain) await routePlain(page, origin);
  // Tiles load (blank), as they would for a rider online: no offline sketch, no errors.
  await page.route(/tile\.openstreetmap\.org/, (route) => route.fulfill({ contentType: 'image/png', body: blankTile }));
  await page.addInitScript(markSocketMessages);
  await page.addInitScript(recordStartTasks);
  await page.addInitScript(signalShown, { mark: null, count: VEHICLES, signal: SHOWN });
  // What the page says goes with any failure: a run that never shows the fleet is
  // otherwise a bare timeout.
  const said: string[] = [];
  page.on('pageerror', (error) => said.push(`error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') said.push(`${message.type()}: ${message.text()}`);
  });
  const shown = page.waitForEvent('console', { predicate: (message) => message.text() === SHOWN, timeout: 60_000 });
  await page.goto(build.plain ? origin + PLAIN_PATH : origin, { waitUntil: 'commit' });
  await shown
    .catch(async (error) => {
      const status = await page.getByTestId('status').textContent().catch(() => '?');
      throw new Error(
        `${build.name}: the fleet was never all shown (${error}); status "${status}" after ${feed.connections()} ` +
          `connection(s) to the feed; the page said:\n${said.join('\n')}`,
      );
    });
  // The count changes as the snapshot is applied, before the frame that paints it: give
  // that frame's task time to end and be reported.
  await page.waitForTimeout(500);
  const startLongestTaskMs = await page.evaluate(() => {
    const tasks: [number, number][] = (window as any).__startTasks;
    (window as any).__startTasks = null;
    return Math.max(0, ...tasks.map(([, duration]) => duration));
  });
  if (view) {
    await page.evaluate(([lat, lon, zoom]) => {
      (window as any).transitMap.setView([lat, lon], zoom, { animate: false });
    }, view);
  }
  await feed.deltas(WARM_UP_DELTAS);

  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.evaluate(() => {
    const probe = { frames: [] as number[], longest: 0, running: true };
    (window as any).__bench = probe;
    const tick = (t: number) => {
      probe.frames.push(t);
      if (probe.running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) probe.longest = Math.max(probe.longest, entry.duration);
    }).observe({ type: 'longtask' });
  });
  await browser.startTracing(page, { categories: TRACE_CATEGORIES });
  const before = await metrics(cdp);
  await feed.deltas(DELTAS);
  const after = await metrics(cdp);
  const trace = frameCosts(JSON.parse((await browser.stopTracing()).toString('utf8')));
  const probe = await page.evaluate(() => {
    const probe = (window as any).__bench;
    probe.running = false;
    return { frames: probe.frames as number[], longest: probe.longest as number };
  });
  // Read last: the fleet can be counted a frame before it is first painted. The mark's
  // time counts from navigation whenever it is read.
  const firstVehicleMs = await page.evaluate(
    (mark) => performance.getEntriesByName(mark)[0]?.startTime ?? NaN,
    FIRST_VEHICLE_MARK,
  );
  feed.stop();
  await context.close();

  const intervals = probe.frames.slice(1).map((t, i) => t - probe.frames[i]);
  const span = probe.frames[probe.frames.length - 1] - probe.frames[0];
  const vsync = 1000 / 60;
  const missed = intervals.reduce((sum, dt) => sum + Math.max(0, Math.round(dt / vsync) - 1), 0);
  const deltas = after.deltas - before.deltas;
  return {
    deltaTaskMs: percentile(trace.deltaTasks, 0.5),
    deltaFrameMs: percentile(trace.deltaFrames, 0.5),
    deltaFrameP95Ms: percentile(trace.deltaFrames, 0.95),
    deltaFrameCpuMs: percentile(trace.deltaFramesCpu, 0.5),
    deltaFrameCpuP95Ms: percentile(trace.deltaFramesCpu, 0.95),
    frameP95Ms: percentile(trace.frames, 0.95),
    taskMsPerDelta: ((after.TaskDuration - before.TaskDuration) * 1000) / deltas,
    scriptMsPerDelta: ((after.ScriptDuration - before.ScriptDuration) * 1000) / deltas,
    fps: (intervals.length * 1000) / span,
    missedShare: missed / (intervals.length + missed),
    slowestFrameMs: Math.max(...intervals),
    longestTaskMs: probe.longest,
    heapMb: after.JSHeapUsedSize / 2 ** 20,
    firstVehicleMs,
    startLongestTaskMs,
    snapshotLongestTaskMs: NaN,
    startTracedLongestTaskMs: NaN,
    startTracedMostCpuMs: NaN,
    snapshotTracedLongestTaskMs: NaN,
    snapshotTracedMostCpuMs: NaN,
    startWasmCompileCpuMs: NaN,
  };

  async function metrics(cdp: CDPSession) {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const value = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
    return {
      TaskDuration: value('TaskDuration'),
      ScriptDuration: value('ScriptDuration'),
      JSHeapUsedSize: value('JSHeapUsedSize'),
      deltas: feed.sent(),
    };
  }
}

const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing'];
const MESSAGE_MARK = 'bench:ws-message';

/** The mark `app/src/browser/map_view.rs` sets when it paints the first vehicle. */
const FIRST_VEHICLE_MARK = 'transit-stream:first-vehicle';
/** The mark the same file sets when it applies the first snapshot (builds from the early socket on). */
const FIRST_SNAPSHOT_MARK = 'transit-stream:first-snapshot';

/** What the page logs, from [`signalShown`], once it shows what a run waits for. */
const SHOWN = 'bench:shown';

/**
 * Runs in the page before its own scripts: logs `signal` once the page sets `mark` (its
 * first vehicle painted) or its status counts at least `count` vehicles. The benchmark
 * waits for that message rather than with `waitForFunction`, which evaluates Playwright's
 * own script in the page: traces of a start-up showed it as a 35-50 ms task of its own
 * before the first vehicle, counted in the first vehicle's time and its longest task.
 */
function signalShown({ mark, count, signal }: { mark: string | null; count: number; signal: string }) {
  let said = false;
  const say = () => {
    if (!said) console.debug(signal);
    said = true;
  };
  if (mark) {
    new PerformanceObserver((list) => {
      if (list.getEntries().some((entry) => entry.name === mark)) say();
    }).observe({ type: 'mark' });
  }
  new MutationObserver(() => {
    const shown = Number(document.querySelector('[data-testid=status]')?.getAttribute('data-count') ?? 0);
    if (shown >= count) say();
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-count'] });
}

/** Collects long tasks, as [start, duration], from the page's first script on. */
function recordStartTasks() {
  const tasks: [number, number][] = [];
  (window as any).__startTasks = tasks;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tasks.push([entry.startTime, entry.duration]);
  }).observe({ type: 'longtask' });
}

/**
 * Runs in the page before its own scripts: every WebSocket `message` listener first leaves
 * a mark in the trace, which tells the tasks that received a frame from the others. The
 * app's sockets (gloo-net's, and the one the page opens early) listen with
 * `addEventListener`; the check for a WebSocket is made at each call, because
 * `routeWebSocket` puts Playwright's own class in its place.
 */
function markSocketMessages() {
  const wrappers = new WeakMap<object, EventListener>();
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (this: EventTarget, type: string, listener: any, options?: any) {
    if (type !== 'message' || typeof listener !== 'function' || !(this instanceof WebSocket)) {
      return add.call(this, type, listener, options);
    }
    const marked = function (this: EventTarget, event: Event) {
      performance.mark('bench:ws-message');
      return listener.call(this, event);
    };
    wrappers.set(listener, marked);
    return add.call(this, type, marked, options);
  };
  EventTarget.prototype.removeEventListener = function (this: EventTarget, type: string, listener: any, options?: any) {
    return remove.call(this, type, (listener && wrappers.get(listener)) ?? listener, options);
  };
}

// `tts` and `tdur` are the main thread's own CPU clock: they advance only while it runs.
type TraceEvent = { name: string; ph: string; ts: number; dur?: number; tts?: number; tdur?: number; pid: number; tid: number; args?: any };

/**
 * Main-thread cost per frame from a Chromium trace (microseconds in, milliseconds out):
 * for each delta, the task that received it plus the next task that ran animation frames;
 * and every task that ran animation frames.
 *
 * Each delta frame is also counted in the main thread's CPU time (the trace's thread
 * clock). Its wall time includes time the thread did not run: waiting for the compositor
 * thread while a frame is committed, and, on a machine whose cores are all busy (here
 * Playwright's process, which feeds the frames, shares them), waiting to be scheduled. The
 * gap between the two says how much of a slow frame was the page's own work.
 */
function frameCosts(trace: { traceEvents: TraceEvent[] }): {
  deltaTasks: number[];
  deltaFrames: number[];
  deltaFramesCpu: number[];
  frames: number[];
} {
  const events = trace.traceEvents;
  const { marks, main, tasks } = mainThread(events);
  const animation = events.filter((e) => main(e) && e.name === 'FireAnimationFrame').map((e) => e.ts);
  const containing = (ts: number) => tasks.find((t) => t.ts <= ts && ts <= t.ts + t.dur!);
  const frameTasks = [...new Set(animation.map(containing).filter((t): t is TraceEvent => t !== undefined))].sort(
    (a, b) => a.ts - b.ts,
  );
  const deltas = marks.flatMap((mark) => {
    const task = containing(mark.ts);
    if (!task) return [];
    const end = task.ts + task.dur!;
    const frame = frameTasks.find((f) => f.ts >= end && f.ts - end < 100_000);
    // From the message event on (see the top of this file).
    const handling = end - mark.ts;
    // The same span on the thread's clock.
    const handlingCpu = threadTime(task, 'tts') + threadTime(task, 'tdur') - threadTime(mark, 'tts');
    return [
      {
        task: handling / 1000,
        frame: (handling + (frame?.dur ?? 0)) / 1000,
        cpu: (handlingCpu + (frame ? threadTime(frame, 'tdur') : 0)) / 1000,
      },
    ];
  });
  return {
    deltaTasks: deltas.map((d) => d.task),
    deltaFrames: deltas.map((d) => d.frame),
    deltaFramesCpu: deltas.map((d) => d.cpu),
    frames: frameTasks.map((t) => t.dur! / 1000),
  };
}

/**
 * A traced start-up's longest tasks (milliseconds): until the first vehicle is painted,
 * and from the snapshot's arrival until half a second after that paint (the windows of
 * `loadOnce`). Each window gives the longest task on the wall clock and the most CPU any
 * task took on the main thread's own clock. A wall time well above the CPU time is a task
 * that waited: for the compositor in a commit, or for a core, taken by the renderer's own
 * worker threads (V8 compiling the wasm, `wasmCompileCpu`), Chromium's other processes, the
 * server or Playwright.
 */
function startCosts(trace: { traceEvents: TraceEvent[] }): {
  start: { wall: number; cpu: number };
  snapshot: { wall: number; cpu: number };
  wasmCompileCpu: number;
} {
  const events = trace.traceEvents;
  const { marks, main, tasks } = mainThread(events);
  const first = (name: string) => Math.min(...events.filter((e) => main(e) && e.name === name).map((e) => e.ts));
  // As in `loadOnce`: builds without the first-vehicle mark run the window to the trace's
  // end, and builds without the snapshot mark apply the first frame as it arrives.
  const firstVehicle = first(FIRST_VEHICLE_MARK);
  const applied = first(FIRST_SNAPSHOT_MARK);
  const snapshot = Number.isFinite(applied) ? applied : first(MESSAGE_MARK);
  const window = (from: number, to: number) => {
    const within = tasks.filter((t) => t.ts + t.dur! >= from && t.ts <= to);
    return {
      wall: Math.max(0, ...within.map((t) => t.dur!)) / 1000,
      cpu: Math.max(0, ...within.map((t) => threadTime(t, 'tdur'))) / 1000,
    };
  };
  const end = firstVehicle + 500_000;
  // V8 compiles each function for a first tier on its first call, on the main thread (part
  // of the tasks above), and again with its optimizing compiler once the function turns
  // hot, on the renderer's worker threads: the cores those take, the main thread waits for.
  const compiling = events.filter(
    (e) => e.pid === marks[0].pid && !main(e) && e.ph === 'X' && e.name === 'wasm.ExecuteCompilationUnits' && e.ts <= end,
  );
  return {
    start: window(-Infinity, firstVehicle),
    snapshot: window(snapshot, end),
    wasmCompileCpu: compiling.reduce((sum, e) => sum + threadTime(e, 'tdur'), 0) / 1000,
  };
}

/**
 * The page's main thread in a trace, told from Chromium's others by the WebSocket message
 * marks (`markSocketMessages`) made on it: the marks, a test for its events, and its tasks
 * in order.
 */
function mainThread(events: TraceEvent[]) {
  const marks = events.filter((e) => e.name === MESSAGE_MARK);
  if (marks.length === 0) {
    throw new Error('the trace has no WebSocket message marks: did the page get a frame, and does it still listen with addEventListener?');
  }
  const main = (e: TraceEvent) => e.pid === marks[0].pid && e.tid === marks[0].tid;
  const tasks = events
    .filter((e) => main(e) && e.ph === 'X' && e.name === 'RunTask' && e.dur !== undefined)
    .sort((a, b) => a.ts - b.ts);
  return { marks, main, tasks };
}

function threadTime(event: TraceEvent, field: 'tts' | 'tdur'): number {
  const value = event[field];
  if (value === undefined) throw new Error(`the trace's ${event.name} has no ${field}: did Chromium stop recording thread times?`);
  return value;
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/**
 * Answers the page's `/ws` with the synthetic fleet: a snapshot, then a delta per tick.
 * Awaited before the page loads, so that the page's first socket is already routed.
 */
async function feedPage(page: Page, wire: Wire) {
  const fleet = new SyntheticFleet(VEHICLES, 1000 / TICK_MS, wire);
  let sent = 0;
  let connections = 0;
  let timer: NodeJS.Timeout | undefined;
  const waiters: { at: number; done: () => void }[] = [];
  await page.routeWebSocket(/\/ws$/, (socket) => {
    connections++;
    socket.send(fleet.snapshot(Date.now()));
    timer = setInterval(() => {
      socket.send(fleet.delta(Date.now()));
      sent++;
      for (const waiter of waiters.filter((w) => sent >= w.at)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.done();
      }
    }, TICK_MS);
    socket.onClose(() => clearInterval(timer));
  });
  return {
    sent: () => sent,
    connections: () => connections,
    /** Resolves once `n` more deltas have been sent. */
    deltas: (n: number) => new Promise<void>((done) => waiters.push({ at: sent + n, done })),
    stop: () => clearInterval(timer),
  };
}

/** A 256x256 PNG of one light grey: what a map tile costs to place, without the picture. */
const blankTile = (() => {
  const crc = (bytes: Buffer) => {
    let c = ~0;
    for (const byte of bytes) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(256, 0);
  header.writeUInt32BE(256, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc(256 * 257, 0xe4);
  for (let y = 0; y < 256; y++) rows[y * 257] = 0; // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
})();

function summary(run: Run): string {
  if (Number.isNaN(run.deltaTaskMs)) {
    return (
      `first vehicle at ${run.firstVehicleMs.toFixed(0)} ms, longest start-up task ${run.startLongestTaskMs.toFixed(0)} ms, ` +
      `longest task from the snapshot on ${run.snapshotLongestTaskMs.toFixed(0)} ms; traced, longest and most CPU: ` +
      `until the first vehicle ${run.startTracedLongestTaskMs.toFixed(0)} and ${run.startTracedMostCpuMs.toFixed(0)} ms, ` +
      `from the snapshot on ${run.snapshotTracedLongestTaskMs.toFixed(0)} and ${run.snapshotTracedMostCpuMs.toFixed(0)} ms; ` +
      `background wasm compilation ${run.startWasmCompileCpuMs.toFixed(0)} ms CPU`
    );
  }
  return (
    `delta task ${run.deltaTaskMs.toFixed(1)} ms, delta frame ${run.deltaFrameMs.toFixed(1)} ms (p95 ${run.deltaFrameP95Ms.toFixed(1)}; CPU ${run.deltaFrameCpuMs.toFixed(1)}, p95 ${run.deltaFrameCpuP95Ms.toFixed(1)}), any frame p95 ${run.frameP95Ms.toFixed(1)} ms, ` +
    `${run.taskMsPerDelta.toFixed(1)} ms main thread/delta in all (script ${run.scriptMsPerDelta.toFixed(1)}), ` +
    `${run.fps.toFixed(1)} fps, ${(run.missedShare * 100).toFixed(1)} % frames missed, ` +
    `slowest frame ${run.slowestFrameMs.toFixed(0)} ms, longest task ${run.longestTaskMs.toFixed(0)} ms, heap ${run.heapMb.toFixed(1)} MB, ` +
    `first vehicle at ${run.firstVehicleMs.toFixed(0)} ms, longest start-up task ${run.startLongestTaskMs.toFixed(0)} ms`
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function report(): void {
  const keys: (keyof Run)[] = ['deltaTaskMs', 'deltaFrameMs', 'deltaFrameP95Ms', 'deltaFrameCpuMs', 'deltaFrameCpuP95Ms', 'frameP95Ms', 'taskMsPerDelta', 'scriptMsPerDelta', 'fps', 'missedShare', 'slowestFrameMs', 'longestTaskMs', 'heapMb', 'firstVehicleMs', 'startLongestTaskMs', 'snapshotLongestTaskMs', 'startTracedLongestTaskMs', 'startTracedMostCpuMs', 'snapshotTracedLongestTaskMs', 'snapshotTracedMostCpuMs', 'startWasmCompileCpuMs'];
  const out: Record<string, unknown> = { vehicles: VEHICLES, pairs: PAIRS, deltasPerRun: DELTAS, tickMs: TICK_MS, scenarios: {} };
  const lines = [`\nBrowser benchmark: ${VEHICLES} vehicles at 1 Hz, ${PAIRS} pairs, ${DELTAS} deltas per run (medians; ratio = candidate / baseline)`];
  for (const [scenario, byBuild] of Object.entries(results)) {
    lines.push(`\n${scenario}`);
    const rows: Record<string, unknown> = {};
    for (const key of keys) {
      const runs = (name: string) => byBuild[name]?.map((r) => r[key]) ?? [];
      // Figures this scenario does not measure.
      if (Object.values(byBuild).every((list) => list.every((r) => Number.isNaN(r[key])))) continue;
      const [base, cand, plain] = ['baseline', 'candidate', 'plain'].map((name) => median(runs(name)));
      // A ratio against zero (no missed frame, no long task) says nothing: left out.
      const ratio = base > 0 ? cand / base : null;
      const versusPlain = plain > 0 ? cand / plain : null;
      rows[key] = {
        baseline: base,
        candidate: cand,
        plain,
        ratio,
        versusPlain,
        runs: { baseline: runs('baseline'), candidate: runs('candidate'), plain: runs('plain') },
      };
      lines.push(
        `  ${key.padEnd(28)} baseline ${base.toFixed(2).padStart(8)}  candidate ${cand.toFixed(2).padStart(8)}  ratio ${ratio === null ? '–' : ratio.toFixed(2)}` +
          `  plain JS ${plain.toFixed(2).padStart(8)}  candidate / plain ${versusPlain === null ? '–' : versusPlain.toFixed(2)}`,
      );
    }
    (out.scenarios as Record<string, unknown>)[scenario] = rows;
  }
  console.log(lines.join('\n'));
  const file = path.join(root, 'target', 'bench', SMOKE ? 'browser-smoke.json' : 'browser.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(out, null, 2));
  console.log(`\nWritten to ${path.relative(root, file)}`);
}
