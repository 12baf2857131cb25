// What the docs tell a reader to type or open, read from the docs themselves, so that the end-to-end
// test runs exactly that: the TraceQL queries of docs/WORKSHOP.md and the links to the native stack in
// the README, the workshop and the runbook. A query or link edited in a doc is tested as edited.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../native/tools.ts';

export const DOCS = ['README.md', 'docs/WORKSHOP.md', 'demo/RUNBOOK.md'];

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');

/** The TraceQL queries of the workshop's tables: the first cell of each row, a `{ … }` in backticks. */
export function workshopTraceQLQueries(): string[] {
  return read('docs/WORKSHOP.md')
    .split('\n')
    .map((line) => /^\|\s*`(\{.*?)`\s*\|/.exec(line)?.[1])
    .filter((query): query is string => query !== undefined)
    .map((query) => query.replaceAll('\\|', '|')); // a | inside a Markdown table cell is written \|
}

export interface DocLink {
  file: string;
  line: number;
  url: string;
}

/**
 * Every http URL on 127.0.0.1 or localhost in the docs, as written. URLs built by shell arithmetic
 * (`$((10000 + i))`) are left out: they are not links a reader opens.
 */
export function localLinks(): DocLink[] {
  return DOCS.flatMap((file) =>
    read(file)
      .split('\n')
      .flatMap((text, index) =>
        [...text.matchAll(/https?:\/\/(?:127\.0\.0\.1|localhost):\d+[^\s)>`'"]*/g)]
          .map((match) => match[0].replace(/[.,;:]+$/, ''))
          .filter((url) => !url.includes('$(('))
          .map((url) => ({ file, line: index + 1, url })),
      ),
  );
}
