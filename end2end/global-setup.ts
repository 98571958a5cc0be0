import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** Size of the simulated fleet the tests expect on the map. */
export const FLEET = 300;

/**
 * Starts the real server binary in embedded mode with the simulator on a free port, waits
 * for the line where it prints its URL, and hands that URL to the tests as TRANSIT_URL.
 * Returns the teardown, which stops the server with SIGTERM (its graceful shutdown).
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const root = path.resolve(__dirname, '..');
  const binary = process.env.TRANSIT_BIN ?? path.join(root, 'target', 'debug', 'transit-stream');
  const server = spawn(
    binary,
    [
      '--bind', '127.0.0.1:0',
      '--site-root', path.join(root, 'target', 'site'),
      '--source', 'simulator',
      '--sim-vehicles', String(FLEET),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not print its URL within 60 s')), 60_000);
    let seen = '';
    server.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = seen.match(/serving the map at (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited early with code ${code}`));
    });
    server.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  process.env.TRANSIT_URL = url;
  process.env.TRANSIT_FLEET = String(FLEET);

  return async () => {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  };
}
