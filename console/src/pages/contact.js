// One contact: profile, scores with their reasons, predictive score, consents, suppression,
// the timeline (paged), program runs and tasks.
import { api, enc, query } from "../api.js";
import { facts, fill, h, link, num, section, status, table, when } from "../ui.js";

const PROFILE_FIELDS = [
  ["email", "Email"],
  ["phone", "Phone"],
  ["first_name", "First name"],
  ["last_name", "Last name"],
  ["company", "Company"],
  ["job_title", "Job title"],
  ["country", "Country"],
  ["timezone", "Time zone"],
  ["account_id", "Account"],
  ["owner", "Owner"],
  ["created_at", "Created"],
  ["last_seen", "Last seen"],
];

function reasons(caption, list, name) {
  return table(
    caption,
    ["Reason", "Points"],
    (list || []).map((r) => [r.text, `${r.points > 0 ? "+" : ""}${num(r.points)}`]),
    { name, numeric: [1], empty: "No reasons recorded." },
  );
}

export async function contactPage(main, contactId) {
  const detail = await api.get(`/admin/contacts/${enc(contactId)}`);
  const contact = detail.contact || {};
  const scores = detail.scores || {};
  const title = [contact.first_name, contact.last_name].filter(Boolean).join(" ") || contact.email || contactId;
  const suppression = detail.suppression || { suppressed: false };
  const timeline = h("div", { "aria-live": "polite" });
  main.append(
    h("p", { className: "crumbs" }, link("#/contacts", "Contacts"), " / ", title),
    h("h1", { tabindex: "-1" }, title),
    section(
      "Profile",
      facts(
        [
          ["Contact id", contactId],
          ...PROFILE_FIELDS.filter(([key]) => contact[key] !== undefined && contact[key] !== null).map(([key, label]) => [
            label,
            key.endsWith("_at") || key === "last_seen" ? when(contact[key]) : String(contact[key]),
          ]),
          ["Tags", (contact.tags || []).join(", ") || "–"],
          ["Identities", (detail.identities || []).map((i) => (typeof i === "string" ? i : i.key || JSON.stringify(i))).join(", ") || "–"],
        ],
        "profile",
      ),
    ),
    section(
      "Scores",
      facts(
        [
          ["Score", num(scores.score)],
          ["Grade", scores.grade || "–"],
          ["Stage", scores.stage || "–"],
        ],
        "scores",
      ),
      reasons("Why this score", scores.reasons, "score-reasons"),
      scores.predictive
        ? h(
            "div",
            { className: "predictive" },
            h("h3", {}, "Predictive score"),
            facts(
              [
                ["Predictive score", num(scores.predictive.score)],
                ["Model version", String(scores.predictive.model_version ?? "–")],
              ],
              "predictive",
            ),
            reasons("What moves the predictive score", scores.predictive.factors, "predictive-factors"),
          )
        : h("p", {}, "No predictive score for this contact."),
    ),
    section(
      "Consents",
      facts(
        [
          ["Suppressed", suppression.suppressed ? `yes: ${suppression.reason || "no reason given"}` : "no"],
          ["Since", suppression.suppressed ? when(suppression.at) : "–"],
        ],
        "suppression",
      ),
      table(
        "Consents with their proof",
        ["Channel", "Topic", "Status", "Source", "Wording", "At", "Proof"],
        (detail.consents || []).map((c) => [
          c.channel,
          c.topic || "–",
          c.status,
          c.source || "–",
          c.wording || "–",
          when(c.at),
          typeof c.proof === "string" ? c.proof : c.proof ? JSON.stringify(c.proof) : "–",
        ]),
        { name: "consents", empty: "No consent recorded." },
      ),
    ),
    section("Timeline", timeline),
    section(
      "Program runs",
      table(
        "Runs of programs",
        ["Program", "Version", "Status", "Started", "Current step"],
        (detail.runs || []).map((r) => [
          link(`#/programs/${enc(r.program_id)}`, r.program_id),
          num(r.version),
          r.status,
          when(r.started_at),
          r.current_step || "–",
        ]),
        { name: "runs", numeric: [1] },
      ),
    ),
    section(
      "Tasks",
      table(
        "Tasks about this contact",
        ["Task", "Assignee", "Status", "Created"],
        (detail.tasks || []).map((t) => [t.title || t.task_id, t.assignee, t.status, when(t.created_at)]),
        { name: "contact-tasks" },
      ),
    ),
  );
  await loadTimeline(timeline, contactId, null, []);
}

async function loadTimeline(box, contactId, cursor, rows) {
  try {
    const page = await api.get(`/admin/contacts/${enc(contactId)}/timeline${query({ cursor, limit: 25 })}`);
    const all = [...rows, ...page.activities];
    fill(box, 
      table(
        `Activities, newest first (${num(all.length)} shown)`,
        ["At", "Kind", "Name", "Details"],
        all.map((a) => [when(a.at), a.kind, a.name || "–", details(a.properties)]),
        { name: "timeline", empty: "No activity yet." },
      ),
      page.next_cursor
        ? h("button", { type: "button", onClick: () => loadTimeline(box, contactId, page.next_cursor, all) }, "Older activities")
        : null,
    );
  } catch (err) {
    fill(box, status(err.message, "error"));
  }
}

function details(properties) {
  if (!properties || typeof properties !== "object") return "";
  return Object.entries(properties)
    .slice(0, 4)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join("; ");
}
