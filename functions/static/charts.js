// Small SVG charts for the dashboard's metrics: stacked bars and lines over per-minute series.
// Built with DOM calls only (no markup strings), so they work under the page's Trusted Types policy.

const SVG = "http://www.w3.org/2000/svg";
const W = 560, H = 170, LEFT = 52, BOTTOM = 20, TOP = 8;

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(label, max, series, format) {
  const svg = el("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  const plotH = H - BOTTOM - TOP;
  for (const fraction of [0, 0.5, 1]) {
    const y = TOP + plotH * (1 - fraction);
    svg.append(el("line", { class: "axis", x1: LEFT, x2: W, y1: y, y2: y }));
    svg.append(el("text", { x: LEFT - 4, y: y + 3, "text-anchor": "end" }, format(max * fraction)));
  }
  const step = Math.max(1, Math.ceil(series.length / 6));
  series.forEach((point, i) => {
    if (i % step === 0) {
      const x = LEFT + (i + 0.5) * ((W - LEFT) / series.length);
      svg.append(el("text", { x, y: H - 5, "text-anchor": "middle" }, new Date(point.minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
    }
  });
  return { svg, plotH };
}

// Stacked bars: one per point, `keys` stacked bottom-up, each key's value from `value(point, key)`.
export function bars(label, series, keys, value) {
  const totals = series.map((p) => keys.reduce((sum, k) => sum + value(p, k), 0));
  const max = Math.max(1, ...totals);
  const { svg, plotH } = frame(label, max, series, (v) => String(Math.round(v)));
  const width = (W - LEFT) / series.length;
  series.forEach((point, i) => {
    let y = TOP + plotH;
    for (const key of keys) {
      const h = (value(point, key) / max) * plotH;
      if (h > 0) {
        y -= h;
        const bar = el("rect", { class: `s-${key}`, x: LEFT + i * width + 1, y, width: Math.max(1, width - 2), height: h });
        bar.append(el("title", {}, `${new Date(point.minute).toLocaleTimeString()}: ${value(point, key)} ${key}`));
        svg.append(bar);
      }
    }
  });
  return svg;
}

// Lines: one per key; points without a value (null) break the line.
export function lines(label, series, keys, format, fixedMax) {
  const values = series.flatMap((p) => keys.map((k) => p[k]).filter((v) => v !== null && v !== undefined));
  const max = fixedMax || Math.max(1e-9, ...values);
  const { svg, plotH } = frame(label, max, series, format);
  const width = (W - LEFT) / series.length;
  for (const key of keys) {
    let d = "";
    let pen = "M";
    series.forEach((point, i) => {
      const v = point[key];
      if (v === null || v === undefined) { pen = "M"; return; }
      const x = LEFT + (i + 0.5) * width, y = TOP + plotH * (1 - v / max);
      d += `${pen}${x.toFixed(1)},${y.toFixed(1)} `;
      pen = "L";
      svg.append(el("circle", { class: `l-${key}`, cx: x, cy: y, r: 2 }));
    });
    if (d) svg.append(el("path", { class: `l-${key}`, d }));
  }
  return svg;
}
