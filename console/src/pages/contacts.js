// Contacts: a search form (the query goes in the POST body, never in the URL) and the results.
import { api, enc } from "../api.js";
import { field, fill, h, link, num, status, table, when } from "../ui.js";

// the last search, kept while the console is open so "back" from a contact shows it again
let last = null;

const STAGES = ["", "subscriber", "lead", "mql", "sql", "opportunity", "customer", "recycled"];
const GRADES = ["", "A", "B", "C", "D", "F"];

function select(name, options) {
  return h(
    "select",
    { name },
    options.map((o) => h("option", { value: o }, o || "Any")),
  );
}

export async function contactsPage(main) {
  const inputs = {
    email: h("input", { name: "email", type: "email", autocomplete: "off" }),
    name: h("input", { name: "name", type: "text", autocomplete: "off" }),
    stage: select("stage", STAGES),
    grade: select("grade", GRADES),
    score_min: h("input", { name: "score_min", type: "number", inputmode: "numeric" }),
    score_max: h("input", { name: "score_max", type: "number", inputmode: "numeric" }),
    tag: h("input", { name: "tag", type: "text", autocomplete: "off" }),
    account: h("input", { name: "account", type: "text", autocomplete: "off" }),
  };
  const results = h("div", { className: "results", "aria-live": "polite" });
  const form = h(
    "form",
    { className: "search", role: "search", "aria-label": "Search contacts" },
    field("Email", inputs.email),
    field("Name", inputs.name),
    field("Stage", inputs.stage),
    field("Grade", inputs.grade),
    field("Score at least", inputs.score_min),
    field("Score at most", inputs.score_max),
    field("Tag", inputs.tag),
    field("Account", inputs.account),
    h("div", { className: "field submit" }, h("button", { type: "submit" }, "Search")),
  );
  const criteria = () => {
    const body = {};
    for (const [key, input] of Object.entries(inputs)) {
      const value = input.value.trim();
      if (!value) continue;
      body[key] = key.startsWith("score_") ? Number(value) : value;
    }
    return body;
  };
  async function search(body, cursor, rows) {
    fill(results, status("Searching…"));
    try {
      const answer = await api.post("/admin/contacts/search", { ...body, limit: 50, ...(cursor ? { cursor } : {}) });
      const all = [...rows, ...answer.contacts];
      last = { body, rows: all, next: answer.next_cursor };
      render(all, answer.next_cursor, body);
    } catch (err) {
      fill(results, status(err.message, "error"));
    }
  }
  function render(rows, next, body) {
    fill(results, 
      table(
        `${num(rows.length)} contact${rows.length === 1 ? "" : "s"}${next ? " (more below)" : ""}`,
        ["Contact", "Email", "Stage", "Grade", "Score", "Predictive", "Tags", "Account", "Last seen"],
        rows.map((c) => [
          link(`#/contacts/${enc(c.contact_id)}`, c.name || c.contact_id),
          c.email || "–",
          c.stage || "–",
          c.grade || "–",
          num(c.score),
          num(c.predictive_score),
          (c.tags || []).join(", "),
          c.account_id || "–",
          when(c.last_seen),
        ]),
        { name: "contacts", numeric: [4, 5], rowHeaders: true, empty: "No contact matches." },
      ),
      next ? h("button", { type: "button", onClick: () => search(body, next, rows) }, "More contacts") : null,
    );
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(criteria(), null, []);
  });
  main.append(h("h1", { tabindex: "-1" }, "Contacts"), form, results);
  if (last) {
    for (const [key, value] of Object.entries(last.body)) inputs[key].value = String(value);
    render(last.rows, last.next, last.body);
  } else {
    await search({}, null, []);
  }
}
