/**
 * A synthetic fleet for the browser benchmark, in the `/ws` wire format of the build under
 * test: binary (`app/src/wire.rs`, via `../wire.ts`), or the JSON `ServerFrame`s
 * (`app/src/model.rs`) that builds before it read. `size` vehicles spread over the Helsinki
 * region, every one of them moving and reporting once a second, spread evenly over the
 * ticks of a second.
 *
 * Why not the server's simulator: its vehicles start at stops and dwell there, so for the
 * first minutes most of them do not move and a delta carries a few dozen of them. The
 * benchmark wants the steady worst case ("3,000 vehicles at 1 Hz") from the first second,
 * the same on every run and for every build compared.
 */

const BOX = { south: 60.1, north: 60.3, west: 24.7, east: 25.2 };
const MODES: [string, number][] = [['bus', 0.8], ['tram', 0.1], ['train', 0.05], ['metro', 0.03], ['ferry', 0.02]];
const HEADSIGNS = ['Kamppi', 'Rautatientori', 'Itäkeskus', 'Pasila', 'Munkkiniemi', 'Kauppatori', 'Tapiola'];

import { encodeDelta, encodeSnapshot, VERSION, type Version, type WireMarker } from '../wire';

/** The frame encoding a build's page reads: JSON, or the binary format at a version. */
export type Wire = Version | 'json';

type Vehicle = { id: string; lat: number; lon: number; heading: number; speed: number; mode: string; line: string; to: string; delay: number };

/** A small seeded generator (mulberry32): the same fleet on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SyntheticFleet {
  private readonly vehicles: Vehicle[] = [];
  private readonly next: () => number;
  private seq = 0;

  constructor(
    size: number,
    private readonly ticksPerSecond: number,
    private readonly wire: Wire = VERSION,
    seed = 2026,
  ) {
    this.next = random(seed);
    for (let i = 0; i < size; i++) {
      let pick = this.next();
      const mode = MODES.find(([, share]) => (pick -= share) < 0)?.[0] ?? 'bus';
      const line = mode === 'metro' ? `M${1 + (i % 2)}` : mode === 'tram' ? String(1 + (i % 10)) : String(10 + (i % 600));
      this.vehicles.push({
        id: `${String(12 + (i % 9)).padStart(4, '0')}/${String(1000 + i).padStart(5, '0')}`,
        lat: BOX.south + this.next() * (BOX.north - BOX.south),
        lon: BOX.west + this.next() * (BOX.east - BOX.west),
        heading: this.next() * 360,
        speed: 4 + this.next() * 8,
        mode,
        line,
        to: HEADSIGNS[i % HEADSIGNS.length],
        delay: Math.round(-120 + this.next() * 1000),
      });
    }
  }

  /** Every vehicle, where it is now. */
  snapshot(nowMs: number): string | Buffer {
    const seq = ++this.seq;
    const vehicles = this.vehicles.map((v) => marker(v, nowMs));
    return this.wire === 'json' ? JSON.stringify({ type: 'snapshot', seq, vehicles }) : encodeSnapshot(seq, vehicles, this.wire);
  }

  /** The next tick: the vehicles whose turn it is move one second on and report. */
  delta(nowMs: number): string | Buffer {
    const seq = ++this.seq;
    const turn = seq % this.ticksPerSecond;
    const upserts = [];
    for (let i = turn; i < this.vehicles.length; i += this.ticksPerSecond) {
      const v = this.vehicles[i];
      this.advance(v);
      upserts.push(marker(v, nowMs));
    }
    return this.wire === 'json'
      ? JSON.stringify({ type: 'delta', seq, upserts, removed: [] })
      : encodeDelta(seq, upserts, nowMs, this.wire);
  }

  /** One second of driving: a gentle turn, and back into the box at its edges. */
  private advance(v: Vehicle): void {
    v.heading = (v.heading + (this.next() - 0.5) * 20 + 360) % 360;
    const rad = (v.heading * Math.PI) / 180;
    v.lat += (v.speed * Math.cos(rad)) / 111_320;
    v.lon += (v.speed * Math.sin(rad)) / (111_320 * Math.cos((v.lat * Math.PI) / 180));
    if (v.lat < BOX.south || v.lat > BOX.north || v.lon < BOX.west || v.lon > BOX.east) {
      v.heading = (v.heading + 180) % 360;
    }
  }
}

function marker(v: Vehicle, nowMs: number): WireMarker {
  return { id: v.id, lat: v.lat, lon: v.lon, mode: v.mode, line: v.line, to: v.to, hdg: Math.round(v.heading), dl: v.delay, ts: nowMs };
}
