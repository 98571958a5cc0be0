import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const root = path.resolve(__dirname, '..');

export type RunningServer = { url: string; stop: () => Promise<void> };

/**
 * Starts the real server binary in embedded mode with the simulator, waits for the line
 * where it prints its URL, and returns that URL with a `stop` that sends SIGTERM (the
 * server's graceful shutdown) and waits for the process to exit.
 */
export async function startServer(options: { bind?: string; vehicles: number }): Promise<RunningServer> {
  const binary = process.env.TRANSIT_BIN ?? path.join(root, 'target', 'debug', 'transit-stream');
  const server = spawn(
    binary,
    [
      '--bind', options.bind ?? '127.0.0.1:0',
      '--site-root', path.join(root, 'target', 'site'),
      '--source', 'simulator',
      '--sim-vehicles', String(options.vehicles),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));

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
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited early with code ${code}`));
    });
    server.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  return {
    url,
    stop: async () => {
      server.kill('SIGTERM');
      await exited;
    },
  };
}
