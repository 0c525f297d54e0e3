// Sessions and conversions per bucket as inline SVG: two bar charts over one time axis,
// scaled to the box they are drawn in (the SVG's viewBox follows its width).

import { fmt, s } from "./dom.js";

const HEIGHT = 150;
const PAD = { top: 14, right: 8, bottom: 22, left: 44 };

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

export function barChart({ title, buckets, key, labels, width, className }) {
  const values = buckets.map((b) => b[key]);
  const max = niceMax(Math.max(0, ...values));
  const plotW = Math.max(10, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const step = values.length ? plotW / values.length : plotW;
  const barW = Math.max(1, step * 0.8);
  const total = values.reduce((a, b) => a + b, 0);
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${HEIGHT}`,
    width: "100%",
    height: HEIGHT,
    role: "img",
    "aria-label": `${title}: ${fmt.int(total)} in ${values.length} buckets, at most ${fmt.int(Math.max(0, ...values))} in one`,
    class: `chart ${className}`,
  });
  for (const tick of [0, max / 2, max]) {
    const y = PAD.top + plotH - (tick / max) * plotH;
    svg.append(
      s("line", { x1: PAD.left, x2: PAD.left + plotW, y1: y, y2: y, class: "grid" }),
      s("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, Number.isInteger(tick) ? fmt.int(tick) : fmt.dec(tick))
    );
  }
  values.forEach((v, i) => {
    const h = (v / max) * plotH;
    const x = PAD.left + i * step + (step - barW) / 2;
    svg.append(
      s("rect", { x, y: PAD.top + plotH - h, width: barW, height: Math.max(0, h), class: "bar" },
        s("title", {}, `${labels[i]}: ${fmt.int(v)}`))
    );
  });
  // A handful of axis labels, evenly spread, whatever the number of buckets.
  const every = Math.max(1, Math.ceil(values.length / Math.max(2, Math.floor(plotW / 80))));
  values.forEach((_, i) => {
    if (i % every) return;
    const x = PAD.left + i * step + step / 2;
    svg.append(s("text", { x, y: HEIGHT - 6, "text-anchor": "middle", class: "tick" }, labels[i]));
  });
  return svg;
}
