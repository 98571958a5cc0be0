/**
 * The browser benchmark's plain-JavaScript baseline, not part of the product: the same
 * fleet on a Leaflet map written the usual way, without a framework or wasm. Circle markers
 * on Leaflet's canvas renderer (`preferCanvas`), created from the snapshot and moved with
 * `setLatLng` as each delta arrives; Leaflet redraws what changed in its next animation
 * frame. It reads the app's binary frames (`app/src/wire.rs`, whose module doc specifies
 * them), so both pages get the very same bytes.
 *
 * What it leaves out, and the app does: glides between reports, headings, labels, ageing,
 * hit-testing beyond Leaflet's own. So its frame costs are a floor, not a like-for-like.
 */
(function () {
  'use strict';
  // By the wire's mode number: bus, tram, train, ferry, metro, U-bus, robot bus.
  const COLOURS = ['#007ac9', '#00985f', '#8c4799', '#00b9e4', '#ff6319', '#007ac9', '#007ac9'];
  const FLAG = { heading: 1, delay: 2, about: 4, line: 8, headsign: 16 };

  const map = L.map('map', { preferCanvas: true }).setView([60.1699, 24.9384], 12);
  L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', { maxZoom: 19 }).addTo(map);
  // The benchmark moves the view through this, as it does the app's.
  window.transitMap = map;
  const status = document.querySelector('[data-testid=status]');
  const vehicles = new Map();
  let painted = false;

  /** A frame's vehicles and removals, or null for a status frame or another version. */
  function decode(buffer) {
    const view = new DataView(buffer);
    const bytes = new Uint8Array(buffer);
    let at = 0;
    const u8 = () => view.getUint8(at++);
    const varint = () => {
      let value = 0;
      for (let scale = 1; ; scale *= 0x80) {
        const byte = u8();
        value += (byte & 0x7f) * scale;
        if ((byte & 0x80) === 0) return value;
      }
    };
    const zigzag = () => {
      const n = varint();
      return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    };
    const i32 = () => {
      const value = view.getInt32(at, true);
      at += 4;
      return value;
    };
    const skipText = () => {
      at += varint();
    };
    if (u8() !== 2) return null;
    const kind = u8();
    if (kind !== 0 && kind !== 1) return null;
    varint(); // seq
    if (kind === 1) varint(); // received_ms
    zigzag(); // base_ms
    const count = varint();
    const markers = [];
    for (let i = 0; i < count; i++) {
      const id = varint();
      const flags = u8();
      const lat = i32() / 1e7;
      const lon = i32() / 1e7;
      zigzag(); // ts
      if (flags & FLAG.heading) varint();
      if (flags & FLAG.delay) zigzag();
      let mode;
      if (flags & FLAG.about) {
        mode = u8();
        if (flags & FLAG.line) skipText();
        if (flags & FLAG.headsign) skipText();
      }
      markers.push({ id, lat, lon, mode });
    }
    const removed = [];
    if (kind === 1) for (let n = varint(); n > 0; n--) removed.push(varint());
    return { snapshot: kind === 0, markers, removed, length: bytes.length };
  }

  const socket = new WebSocket(`ws://${location.host}/ws`);
  socket.binaryType = 'arraybuffer';
  socket.addEventListener('message', (event) => {
    const frame = decode(event.data);
    if (!frame) return;
    if (frame.snapshot) {
      for (const marker of vehicles.values()) marker.remove();
      vehicles.clear();
    }
    for (const m of frame.markers) {
      const known = vehicles.get(m.id);
      if (known) {
        known.setLatLng([m.lat, m.lon]);
      } else {
        const style = { radius: 4, stroke: false, fillOpacity: 0.9, fillColor: COLOURS[m.mode] ?? '#666' };
        vehicles.set(m.id, L.circleMarker([m.lat, m.lon], style).addTo(map));
      }
    }
    for (const id of frame.removed) {
      vehicles.get(id)?.remove();
      vehicles.delete(id);
    }
    status.dataset.count = String(vehicles.size);
    if (!painted && vehicles.size > 0) {
      painted = true;
      // Leaflet draws the canvas in its next animation frame.
      requestAnimationFrame(() => performance.mark('transit-stream:first-vehicle'));
    }
  });
})();
