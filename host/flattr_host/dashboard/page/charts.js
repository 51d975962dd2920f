// Charts as inline SVG, built with DOM calls only (labels are page titles and URLs: hostile text
// goes in through textContent, never markup). Every bar carries its figure in data-* attributes,
// so tests read back exactly what is drawn.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function frame(width, height, label) {
    return svg("svg", {
      viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label,
      preserveAspectRatio: "xMinYMin meet",
    });
  }

  /** A round upper bound for an axis: 1, 2, 5, 10, 20, 50, … at least `max`. */
  function niceMax(max) {
    if (max <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(max));
    for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
    return 10 * power;
  }

  /**
   * Vertical bars, one group per point; `series` names the values drawn side by side.
   * points: [{key, label, values: {name: number}}]
   */
  function columns({ id, label, points, series, height = 180, everyNth = 5 }) {
    const width = 1000, left = 34, bottom = 22, top = 8;
    const root = frame(width, height, label);
    root.id = id;
    const max = niceMax(Math.max(0, ...points.flatMap((p) => series.map((s) => p.values[s] || 0))));
    const plotH = height - top - bottom;
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotH * (1 - fraction);
      root.append(svg("line", { class: "grid-line", x1: left, x2: width, y1: y, y2: y }));
      root.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, max * fraction));
    }
    const slot = (width - left) / Math.max(1, points.length);
    const barW = Math.max(2, (slot * 0.8) / series.length);
    points.forEach((point, index) => {
      series.forEach((name, n) => {
        const value = point.values[name] || 0;
        const h = (plotH * value) / max;
        const rect = svg("rect", {
          class: n === 0 ? "bar" : "bar alt",
          x: left + index * slot + slot * 0.1 + n * barW, y: top + plotH - h,
          width: barW, height: Math.max(h, 0), "data-key": point.key, "data-series": name,
          "data-value": value,
        });
        rect.append(svg("title", {}, `${point.label}: ${value} ${name}`));
        root.append(rect);
      });
      if (index % everyNth === everyNth - 1 || index === points.length - 1) {
        root.append(svg("text", {
          x: left + index * slot + slot / 2, y: height - 6, "text-anchor": "middle",
        }, point.label));
      }
    });
    return root;
  }

  /** Horizontal bars with a label each: rows [{key, label, value}]. */
  function ranking({ id, label, rows, unit }) {
    const width = 480, rowH = 24, labelW = 190;
    const height = Math.max(rowH, rows.length * rowH);
    const root = frame(width, height, label);
    root.id = id;
    const max = Math.max(1, ...rows.map((r) => r.value));
    rows.forEach((row, index) => {
      const y = index * rowH;
      const text = row.label.length > 30 ? `${row.label.slice(0, 29)}…` : row.label;
      root.append(svg("text", { x: 0, y: y + 16 }, text));
      const w = ((width - labelW - 40) * row.value) / max;
      const rect = svg("rect", {
        class: "bar", x: labelW, y: y + 5, width: Math.max(w, 1), height: rowH - 10,
        "data-key": row.key, "data-value": row.value,
      });
      rect.append(svg("title", {}, `${row.label}: ${row.value} ${unit}`));
      root.append(rect);
      root.append(svg("text", { x: labelW + w + 6, y: y + 16 }, row.value));
    });
    return root;
  }

  /** A thin progress bar (0..1) with its figure in data-progress. */
  function progress({ value, label, key }) {
    const width = 160, height = 10;
    const root = frame(width, height, label);
    root.setAttribute("width", width);
    root.append(svg("rect", { class: "track", x: 0, y: 0, width, height, rx: 5 }));
    const bar = svg("rect", {
      class: "bar", x: 0, y: 0, width: width * Math.min(1, Math.max(0, value)), height, rx: 5,
      "data-key": key, "data-progress": value,
    });
    root.append(bar);
    return root;
  }

  return { columns, ranking, progress, niceMax };
})();
