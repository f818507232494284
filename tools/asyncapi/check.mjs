// Parses an AsyncAPI document with AsyncAPI's own parser and prints every diagnostic;
// exits 1 if any is an error or a warning (or the document does not parse), else 0.
// Usage: node tools/asyncapi/check.mjs docs/contract/asyncapi.yaml
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const path = process.argv[2];
if (!path) {
  console.error('usage: node check.mjs ASYNCAPI_FILE');
  process.exit(2);
}
const names = { 0: 'error', 1: 'warning', 2: 'info', 3: 'hint' };
const { document, diagnostics } = await fromFile(new Parser(), path).parse();
for (const d of diagnostics) {
  const where = (d.path || []).join('.') || '(root)';
  console.log(`${names[d.severity] ?? d.severity} ${d.code} at ${where}: ${d.message}`);
}
const bad = diagnostics.filter(
  (d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning,
);
if (!document || bad.length) {
  console.log(`${path}: ${bad.length} error(s) or warning(s)${document ? '' : '; it does not parse'}`);
  process.exit(1);
}
console.log(`${path}: AsyncAPI ${document.version()} parsed, no error or warning (${diagnostics.length} other diagnostics)`);
