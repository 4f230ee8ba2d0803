// Sends every Segment call type through a real Node.js SDK, with its default settings, to
// the local API. Usage: node send.js <segment|rudderstack> <api url> <write key> <scenario>
// Prints one JSON line: {"errors": [...]} (what the SDK reported), after flushing.
"use strict";

const [sdkName, url, writeKey, scenario] = process.argv.slice(2);
const errors = [];

function calls(prefix) {
  // [method, message] pairs, the same for both SDKs (they take Segment's message shape)
  if (scenario === "one-bad") {
    return [
      ["track", { userId: `${prefix}-u`, event: "Product Viewed", properties: { sku: "a" } }],
      ["track", { userId: `${prefix}-u`, event: "email.clicked", properties: {} }],
      ["track", { userId: `${prefix}-u`, event: "Product Added", properties: { sku: "a" } }],
    ];
  }
  return [
    ["page", { anonymousId: "v-1", category: "Docs", name: "Pricing",
               properties: { url: "https://example.com/pricing", path: "/pricing" } }],
    ["identify", { userId: "u-1", traits: { email: "Ada@Example.com", firstName: "Ada", plan: "pro" } }],
    ["alias", { previousId: "v-1", userId: "u-1" }],
    ["group", { userId: "u-1", groupId: "acme",
                traits: { name: "Acme Inc", industry: "Manufacturing", employees: 250,
                          website: "https://www.acme.example" } }],
    ["track", { userId: "u-1", event: "Order Completed", properties: { order_id: "o-1", revenue: 99.5 } }],
    ["screen", { userId: "u-1", name: "Home", properties: { variant: "b" } }],
  ];
}

async function segment() {
  const { Analytics } = require("@segment/analytics-node");
  const analytics = new Analytics({ writeKey, host: url });
  analytics.on("error", (err) => errors.push(String(err && (err.reason || err.message || err))));
  for (const [method, message] of calls("segment")) analytics[method](message);
  await analytics.closeAndFlush();
}

async function rudderstack() {
  const Analytics = require("@rudderstack/rudder-sdk-node");
  const client = new Analytics(writeKey, {
    dataPlaneUrl: url,
    logLevel: "error",
    errorHandler: (err) => errors.push(String(err && err.message)),
  });
  for (const [method, message] of calls("rudderstack")) client[method](message);
  await client.flush();
}

(sdkName === "segment" ? segment() : rudderstack())
  .catch((err) => errors.push(String(err && err.message)))
  .finally(() => process.stdout.write(JSON.stringify({ errors }) + "\n"));
