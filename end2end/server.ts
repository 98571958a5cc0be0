import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const root = path.resolve(__dirname, '..');

export type Running = { url: string; stop: () => Promise<void> };

/**
 * Starts `binary` with `args`, waits for the stdout line matching `announce` (whose first
 * group is the URL), and returns that URL with a `stop` that sends SIGTERM (graceful
 * shutdown) and waits for the process to exit.
 */
export async function startProcess(binary: string, args: string[], announce: RegExp): Promise<Running> {
  const child = spawn(binary, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${binary} did not announce itself within 60 s`)), 60_000);
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = seen.match(announce);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${binary} exited early with code ${code}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Starts the real server binary. Embedded mode with the simulator (not `auto`, which
 * would first try HSL's broker) unless `options` say otherwise: another `source` (with
 * its own `args`, e.g. a replay file) or `args` such as `--ksqldb-url`.
 */
export async function startServer(options: {
  bind?: string;
  vehicles?: number;
  source?: 'simulator' | 'replay';
  args?: string[];
}): Promise<Running> {
  const binary = process.env.TRANSIT_BIN ?? path.join(root, 'target', 'debug', 'transit-stream');
  const source = options.source ?? 'simulator';
  return startProcess(
    binary,
    [
      '--bind', options.bind ?? '127.0.0.1:0',
      '--site-root', path.join(root, 'target', 'site'),
      '--source', source,
      ...(source === 'simulator' ? ['--sim-vehicles', String(options.vehicles ?? 100)] : []),
      ...(options.args ?? []),
    ],
    /serving the map at (http:\/\/\S+)/,
  );
}

/** Starts the fake ksqlDB (a protocol fake, not ksqlDB) fed by the simulator. */
export async function startFakeKsqldb(vehicles: number): Promise<Running> {
  const binary = path.join(root, 'target', 'debug', 'examples', 'fake_ksqldb');
  return startProcess(binary, [String(vehicles)], /fake ksqlDB \(not ksqlDB\) at (http:\/\/\S+)/);
}
