// Suppressions: who may not be sent to, why and since when; lift one with a reason (a
// complaint only with an explicit override).
import { api, query } from "../api.js";
import { field, fill, h, link, status, table, when } from "../ui.js";

export async function suppressionsPage(main, rerender, params) {
  const channel = params.get("channel") === "sms" ? "sms" : "email";
  const first = await api.get(`/admin/suppressions${query({ channel })}`);
  const message = h("div", { "aria-live": "polite" });
  const channelSelect = h(
    "select",
    { name: "channel" },
    ["email", "sms"].map((c) => h("option", { value: c, selected: c === channel ? true : undefined }, c)),
  );
  const filter = h(
    "form",
    { className: "search", "aria-label": "Filter suppressions" },
    field("Channel", channelSelect),
    h("div", { className: "field submit" }, h("button", { type: "submit" }, "Show")),
  );
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.hash = `#/suppressions${query({ channel: channelSelect.value })}`;
  });
  const list = h("div", {});
  const dialog = h("div", { className: "lift" });
  main.append(h("h1", { tabindex: "-1" }, "Suppressions"), filter, message, dialog, list);

  function liftForm(s, opener) {
    const reason = h("textarea", { name: "reason", required: true, rows: 2 });
    const override = h("input", { type: "checkbox", name: "override_complaint" });
    const form = h(
      "form",
      { className: "lift-form", "aria-label": `Lift the suppression of ${s.address}` },
      h("h2", { tabindex: "-1" }, `Lift: ${s.address} (${s.reason})`),
      field("Why may they be sent to again?", reason),
      s.reason === "complaint"
        ? h(
            "div",
            { className: "field check" },
            override,
            h("label", { for: (override.id = `override-${Math.random().toString(36).slice(2, 8)}`) }, "They complained: lift it anyway (override)"),
          )
        : null,
      h(
        "div",
        { className: "actions" },
        h("button", { type: "submit" }, "Lift suppression"),
        h(
          "button",
          {
            type: "button",
            onClick: () => {
              fill(dialog);
              opener.focus();
            },
          },
          "Cancel",
        ),
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!reason.value.trim()) {
        fill(message, status("A reason is needed to lift a suppression.", "error"));
        reason.focus();
        return;
      }
      try {
        await api.post("/admin/suppressions/lift", {
          suppression_id: s.suppression_id,
          reason: reason.value.trim(),
          override_complaint: override.checked,
        });
        await rerender(status(`Lifted: ${s.address} may be sent to again.`));
      } catch (err) {
        fill(message, status(err.message, "error"));
      }
    });
    fill(dialog, form);
    form.querySelector("h2").focus();
  }

  function render(rows, next) {
    fill(list, 
      table(
        `${rows.length} suppression${rows.length === 1 ? "" : "s"}${next ? " (more below)" : ""}`,
        ["Address", "Contact", "Reason", "Detail", "Since", "Source", "Action"],
        rows.map((s) => {
          const button = h(
            "button",
            { type: "button", dataset: { lift: s.suppression_id }, "aria-label": `Lift the suppression of ${s.address || "an erased person"}` },
            "Lift…",
          );
          button.addEventListener("click", () => liftForm(s, button));
          return [
            s.address || "(erased)",
            s.contact_id ? link(`#/contacts/${encodeURIComponent(s.contact_id)}`, s.contact_id) : "–",
            s.reason,
            s.detail || "–",
            when(s.at),
            s.source || "–",
            s.liftable === false ? "–" : button,
          ];
        }),
        { name: "suppressions", rowHeaders: true, empty: "No one is suppressed." },
      ),
      next
        ? h(
            "button",
            {
              type: "button",
              onClick: async () => {
                const more = await api.get(`/admin/suppressions${query({ channel, cursor: next })}`);
                render([...rows, ...more.suppressions], more.next_cursor);
              },
            },
            "More suppressions",
          )
        : null,
    );
  }
  render(first.suppressions, first.next_cursor);
}
