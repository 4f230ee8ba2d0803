// Small DOM helpers. Every value from the API goes into the page as text (textContent),
// never as HTML, so nothing a contact typed can run in the console.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "className") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const numberFormat = new Intl.NumberFormat("en");

export function num(value) {
  if (value === undefined || value === null || value === "") return "–";
  return typeof value === "number" ? numberFormat.format(value) : String(value);
}

export function pct(rate) {
  if (rate === undefined || rate === null) return "–";
  return `${(rate * 100).toFixed(1)}%`;
}

export function when(iso) {
  if (!iso) return "–";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso);
  return at.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

/** A table with a caption, column headers (scope=col) and rows of cells (strings or nodes). */
export function table(caption, columns, rows, options = {}) {
  const numeric = new Set(options.numeric || []);
  return h(
    "table",
    { className: "data", dataset: options.name ? { table: options.name } : undefined },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      rows.length
        ? rows.map((row) =>
            h(
              "tr",
              {},
              row.map((cell, i) =>
                i === 0 && options.rowHeaders
                  ? h("th", { scope: "row" }, cell)
                  : h("td", { className: numeric.has(i) ? "num" : undefined }, cell),
              ),
            ),
          )
        : h("tr", {}, h("td", { colspan: columns.length, className: "empty" }, options.empty || "Nothing yet.")),
    ),
  );
}

/** A definition list of [term, value] pairs. */
export function facts(pairs, name) {
  return h(
    "dl",
    { className: "facts", dataset: name ? { facts: name } : undefined },
    pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "–")]),
  );
}

export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export function link(href, text) {
  return h("a", { href }, text);
}

/** A labelled form field. */
export function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { className: "field" }, h("label", { for: id }, label), input);
}

export function status(message, kind = "info") {
  return h("p", { className: `status ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}

/** Replace an element's children (null/false children are left out, unlike replaceChildren). */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}
