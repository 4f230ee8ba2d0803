// The console's build: esbuild bundles src/app.js (ES modules, split so that the Cognito SDK
// loads only when signing in through Cognito) into dist/, with the page and its stylesheet.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";

const dist = new URL("./dist/", import.meta.url).pathname;
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: ["src/app.js"],
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  outdir: dist,
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) copyFileSync(`src/${file}`, `${dist}${file}`);
// config.json is the deployment's (README: "The console"); the local cloud serves its own
writeFileSync(`${dist}.built`, new Date().toISOString() + "\n");
