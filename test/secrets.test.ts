// No secret in the repository: every tracked file is scanned for the shapes credentials take
// (private keys, cloud and forge tokens, passwords and tokens given a literal value). The demo needs
// none: ADMIN_TOKEN is empty unless the host sets it, Grafana runs with anonymous access.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../native/tools.ts';

const SECRET_SHAPES: [string, RegExp][] = [
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['an AWS access key id', /\bAKIA[0-9A-Z]{16}\b/],
  ['a GitHub token', /\bgh[pousr]_[A-Za-z0-9]{36,}\b/],
  ['a Slack token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/],
  ['an API key in the sk- form', /\bsk-[A-Za-z0-9_-]{20,}/],
  ['a Grafana service account token', /\bglsa_[A-Za-z0-9_]{20,}/],
  ['a JSON web token', /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/],
  // A password or token setting with a literal value: `GF_SECURITY_ADMIN_PASSWORD: hunter22` (an
  // environment name), `"password": "hunter22"` (a config key, quoted value). An empty value, a
  // variable reference or a placeholder in angle brackets is no secret.
  ['a password or token with a literal value', /\b[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN)\s*[:=]\s*["']?(?![$<"'\s{]|$)[^\s"',}]{6,}/],
  ['a password or token with a literal value', /^\s*["']?[a-z_]*(?:password|passwd|secret|token)["']?\s*:\s*["'](?![$<])[^"'\s]{6,}["']/],
];

/** What in `text` looks like a secret, as "line: kind". */
function secretsIn(text: string): string[] {
  const found: string[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    for (const [kind, shape] of SECRET_SHAPES) if (shape.test(line)) found.push(`${index + 1}: ${kind}`);
  }
  return found;
}

test('the scanner finds each shape of secret, and not the settings the repository uses', () => {
  const planted = [
    '-----BEGIN OPENSSH PRIVATE KEY-----',
    'aws_access_key_id = AKIAABCDEFGHIJKLMNOP',
    `GITHUB=ghp_${'a'.repeat(36)}`,
    'SLACK=xoxb-1234567890-abcdef',
    `OPENAI=sk-${'b'.repeat(24)}`,
    `GRAFANA=glsa_${'c'.repeat(32)}`,
    'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'GF_SECURITY_ADMIN_PASSWORD: correct-horse',
    '  "password": "correct-horse"',
  ];
  for (const line of planted) assert.equal(secretsIn(line).length, 1, `not found: ${line}`);
  for (const line of [
    'ADMIN_TOKEN: ${ADMIN_TOKEN:-}',
    'ADMIN_TOKEN=',
    'headers: { authorization: `Bearer ${token}` }',
    'Bearer <ADMIN_TOKEN>',
    'token: string',
    'const app = createApp({ adminToken: process.env.ADMIN_TOKEN });',
  ]) {
    assert.deepEqual(secretsIn(line), [], line);
  }
});

test('no tracked file holds a secret', () => {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' }).split('\0').filter(Boolean);
  assert.ok(files.length > 50, `git ls-files listed only ${files.length} files`);
  const findings: string[] = [];
  for (const file of files) {
    // Integrity hashes are no credentials; this file plants secrets on purpose; a deletion not yet
    // committed is gone; a link (the Helm chart's files/) is read where it leads, as a file of its own.
    if (file === 'package-lock.json' || file.endsWith('.sum') || file === 'test/secrets.test.ts' || !existsSync(join(repoRoot, file))) continue;
    if (lstatSync(join(repoRoot, file)).isSymbolicLink()) continue;
    const text = readFileSync(join(repoRoot, file), 'utf8');
    if (text.includes('\0')) continue; // binary
    findings.push(...secretsIn(text).map((finding) => `${file}:${finding}`));
  }
  assert.deepEqual(findings, []);
});
