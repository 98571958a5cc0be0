import { startServer } from './server';

/** Size of the simulated fleet the shared server runs. */
const FLEET = 300;

/**
 * Starts the server the tests share and hands its URL to them as TRANSIT_URL. Returns the
 * teardown, which stops it.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const server = await startServer({ vehicles: FLEET });
  process.env.TRANSIT_URL = server.url;
  process.env.TRANSIT_FLEET = String(FLEET);
  return server.stop;
}
