// Elements are built with the DOM API and text goes in as text: page URLs, UTM values and
// emails come from visitors' browsers and must never be parsed as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

// One fixed number format (en-US grouping), so that what is shown can be read back.
export const fmt = {
  int: (n) => integer.format(n),
  dec: (n) => decimal.format(n),
  money: (n) => money.format(n),
  pct: (n) => percent.format(n),
};

// A table that scrolls inside its own box on a narrow screen, never the page.
export function table(caption, headers, rows, { numeric = [] } = {}) {
  const head = h("tr", {}, headers.map((text, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, text)));
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h("table", {}, h("caption", { class: "visually-hidden" }, caption), h("thead", {}, head), h("tbody", {}, rows))
  );
}

export function cell(content, { numeric = false, value = null } = {}) {
  return h("td", { class: numeric ? "num" : null, dataset: value === null ? undefined : { value: String(value) } }, content);
}

export function message(text, kind = "empty") {
  return h("p", { class: kind, role: kind === "error" ? "alert" : null }, text);
}
