/**
 * The `/ws` wire format (`app/src/wire.rs`, whose module doc is the specification) for the
 * tests' own use: encoding frames for the benchmark's synthetic feed, and reading a
 * frame's header to count what a page received without asking the page. A change to the
 * format shows up here as a failing browser test, not as silently different figures.
 */

export const VERSION = 2;
/** Format versions this file can write: builds under comparison may read an older one. */
export type Version = 1 | 2;
const KIND = { snapshot: 0, delta: 1, status: 2 } as const;
const FLAG = { heading: 1, delay: 2, about: 4, line: 8, headsign: 16 } as const;
const MODES: Record<string, number> = { bus: 0, tram: 1, train: 2, ferry: 3, metro: 4, ubus: 5, robot: 6 };

/** A marker as the JSON frames spell it (`Marker` in `app/src/model.rs`). */
export type WireMarker = {
  id: string;
  lat: number;
  lon: number;
  mode: string;
  line?: string;
  to?: string;
  hdg?: number;
  dl?: number;
  ts: number;
};

class Writer {
  private readonly bytes: number[] = [];

  u8(value: number): void {
    this.bytes.push(value & 0xff);
  }

  i32(value: number): void {
    for (let i = 0; i < 4; i++) this.u8((value >> (8 * i)) & 0xff);
  }

  /** Unsigned LEB128 with arithmetic, not bit operations: timestamps exceed 32 bits. */
  varint(value: number): void {
    while (value >= 0x80) {
      this.u8((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    this.u8(value);
  }

  zigzag(value: number): void {
    this.varint(value >= 0 ? 2 * value : -2 * value - 1);
  }

  text(value: string): void {
    const utf8 = Buffer.from(value, 'utf8');
    this.varint(utf8.length);
    for (const byte of utf8) this.u8(byte);
  }

  done(): Buffer {
    return Buffer.from(this.bytes);
  }
}

function packedId(id: string): number {
  const [operator, vehicle] = id.split('/').map(Number);
  return operator * 100_000 + vehicle;
}

/**
 * A snapshot or delta frame; `described` says whether each marker carries its mode and text,
 * `receivedMs` is a version 2 delta's receipt time.
 */
function records(
  kind: number,
  seq: number,
  markers: WireMarker[],
  described: boolean,
  w: Writer,
  version: Version,
  receivedMs?: number,
): void {
  const base = markers[0]?.ts ?? 0;
  w.u8(version);
  w.u8(kind);
  w.varint(seq);
  if (version >= 2 && receivedMs !== undefined) w.varint(receivedMs);
  w.zigzag(base);
  w.varint(markers.length);
  for (const m of markers) {
    let flags = 0;
    if (m.hdg !== undefined) flags |= FLAG.heading;
    if (m.dl !== undefined) flags |= FLAG.delay;
    if (described) {
      flags |= FLAG.about;
      if (m.line !== undefined) flags |= FLAG.line;
      if (m.to !== undefined) flags |= FLAG.headsign;
    }
    w.varint(packedId(m.id));
    w.u8(flags);
    w.i32(Math.round(m.lat * 1e7));
    w.i32(Math.round(m.lon * 1e7));
    w.zigzag(m.ts - base);
    if (m.hdg !== undefined) w.varint(m.hdg);
    if (m.dl !== undefined) w.zigzag(m.dl);
    if (described) {
      w.u8(MODES[m.mode] ?? 255);
      if (m.line !== undefined) w.text(m.line);
      if (m.to !== undefined) w.text(m.to);
    }
  }
}

export function encodeSnapshot(seq: number, markers: WireMarker[], version: Version = VERSION): Buffer {
  const w = new Writer();
  records(KIND.snapshot, seq, markers, true, w, version);
  return w.done();
}

/**
 * A delta of vehicles the receiver already knows (nothing about them changed but place),
 * received by the (synthetic) server at `receivedMs`.
 */
export function encodeDelta(seq: number, moved: WireMarker[], receivedMs: number, version: Version = VERSION): Buffer {
  const w = new Writer();
  records(KIND.delta, seq, moved, false, w, version, receivedMs);
  w.varint(0); // nothing removed
  return w.done();
}

/** What a frame is, and for snapshots and deltas how many vehicles it carries. */
export function readHeader(frame: Buffer): { kind: 'snapshot' | 'delta' | 'status'; seq: number; vehicles: number } {
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1; ; scale *= 0x80) {
      const byte = frame[at++];
      if (byte === undefined) throw new Error('a truncated frame');
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
    }
  };
  if (frame[at++] !== VERSION) throw new Error(`not format version ${VERSION}`);
  const kind = frame[at++];
  if (kind === KIND.status) return { kind: 'status', seq: 0, vehicles: 0 };
  if (kind !== KIND.snapshot && kind !== KIND.delta) throw new Error(`unknown kind ${kind}`);
  const seq = varint();
  if (kind === KIND.delta) varint(); // receipt time
  varint(); // base time
  return { kind: kind === KIND.snapshot ? 'snapshot' : 'delta', seq, vehicles: varint() };
}
