// Draws the toolbar/store icons (extension/icons/*.png) without any image library: a disc with a
// stylised "F", in three states. Run `npm run icons` after changing the design; the PNGs are
// committed so the build needs nothing but Node.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "icons");
const SUPERSAMPLE = 4; // sub-pixels per axis, for smooth edges
const GREEN = [0x5f, 0xae, 0x2e];
const GREY = [0x90, 0x90, 0x90];
const WHITE = [0xff, 0xff, 0xff];
const RING = 0.09; // ring width of the signed-out variant, as a fraction of the size

// The "F", in unit coordinates (0..1 across the icon): [x0, y0, x1, y1] rectangles.
const GLYPH = [
  [0.36, 0.24, 0.49, 0.76],
  [0.36, 0.24, 0.69, 0.36],
  [0.36, 0.46, 0.63, 0.57],
];

const VARIANTS = {
  flattr: { disc: GREEN, glyph: WHITE, ring: false, sizes: [16, 32, 48, 128] },
  off: { disc: GREY, glyph: WHITE, ring: false, sizes: [16, 32] },
  "signed-out": { disc: GREY, glyph: GREY, ring: true, sizes: [16, 32] },
};

function sample(x, y, v) {
  const dx = x - 0.5;
  const dy = y - 0.5;
  const r = Math.hypot(dx, dy);
  if (r > 0.48) return null;
  const inGlyph = GLYPH.some(([x0, y0, x1, y1]) => x >= x0 && x <= x1 && y >= y0 && y <= y1);
  if (inGlyph) return v.glyph;
  if (v.ring && r < 0.48 - RING) return WHITE;
  return v.disc;
}

function render(size, v) {
  const px = Buffer.alloc(size * size * 4);
  const n = SUPERSAMPLE;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const c = sample((x + (sx + 0.5) / n) / size, (y + (sy + 0.5) / n) / size, v);
          if (!c) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 1;
        }
      }
      const i = (y * size + x) * 4;
      if (a > 0) {
        px[i] = Math.round(r / a);
        px[i + 1] = Math.round(g / a);
        px[i + 2] = Math.round(b / a);
        px[i + 3] = Math.round((255 * a) / (n * n));
      }
    }
  }
  return px;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

export function png(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

mkdirSync(OUT, { recursive: true });
for (const [name, v] of Object.entries(VARIANTS)) {
  for (const size of v.sizes) {
    const file = join(OUT, `${name}-${size}.png`);
    writeFileSync(file, png(size, render(size, v)));
    console.log(file);
  }
}
