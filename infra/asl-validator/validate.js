#!/usr/bin/env node
// Runs AWS's Amazon States Language validation (amazon-states-language-service, the language
// service behind the AWS Toolkit and Workflow Studio editors) over state machine definitions.
//
//   node validate.js FILE...   one JSON result per file on stdout; exit 1 if any has an error
//   node validate.js --serve   one request per stdin line: {"id": ..., "definition": "<text>"},
//                              one answer per stdout line: {"id": ..., "diagnostics": [...]}
//
// A diagnostic: {severity: ERROR|WARNING, message, location (a JSON pointer such as
// "/States/Send welcome/Next"), line, column (1-based)}.
'use strict';

const fs = require('fs');
const readline = require('readline');
const { getLanguageService, DiagnosticSeverity, TextDocument } = require('amazon-states-language-service');

const service = getLanguageService({});

function pointer(root, offset) {
  // The innermost node at `offset`, then the keys and indexes on the way up to the root.
  let node = root;
  for (;;) {
    const inside = (node.children || []).find((c) => c.offset <= offset && offset < c.offset + c.length);
    if (!inside) break;
    node = inside;
  }
  const parts = [];
  for (let n = node; n; n = n.parent) {
    if (n.type === 'property') parts.unshift(n.keyNode.value);
    else if (n.parent && n.parent.type === 'array') parts.unshift(String(n.parent.items.indexOf(n)));
  }
  return '/' + parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

async function validate(text) {
  const document = TextDocument.create('definition.asl.json', 'json', 1, text);
  const json = service.parseJSONDocument(document);
  const found = await service.doValidation(document, json);
  return found.map((d) => {
    const offset = document.offsetAt(d.range.start);
    return {
      severity: d.severity === DiagnosticSeverity.Error || d.severity === undefined ? 'ERROR' : 'WARNING',
      source: d.source || 'asl',
      message: d.message,
      location: json.root ? pointer(json.root, offset) : '/',
      line: d.range.start.line + 1,
      column: d.range.start.character + 1,
    };
  });
}

async function serve() {
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let answer;
    try {
      const request = JSON.parse(line);
      answer = { id: request.id, diagnostics: await validate(String(request.definition)) };
    } catch (error) {
      answer = { id: null, error: String(error) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
}

async function files(paths) {
  let failed = false;
  for (const path of paths) {
    const diagnostics = await validate(fs.readFileSync(path, 'utf8'));
    failed = failed || diagnostics.some((d) => d.severity === 'ERROR');
    process.stdout.write(JSON.stringify({ file: path, diagnostics }) + '\n');
  }
  process.exitCode = failed ? 1 : 0;
}

const args = process.argv.slice(2);
(args[0] === '--serve' ? serve() : files(args)).catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + '\n');
  process.exitCode = 2;
});
