// Attribute sets as keys. On the record path a trie finds an attribute set's entry without building
// a string (attribute-trie.ts); at export the canonical key below matches the reservoir's attribute
// sets with the data points the SDK encoded, whatever order their attributes come in.
import type { Attributes } from '@opentelemetry/api';

type Canonical = null | string | number | boolean | Canonical[] | { b: string } | { kv: [string, Canonical][] };

const byKey = (a: [string, Canonical], b: [string, Canonical]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function canonicalValue(value: unknown): Canonical {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
  }
  if (value instanceof Uint8Array) return { b: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (typeof value === 'object') {
    return {
      kv: Object.entries(value)
        .map(([k, v]): [string, Canonical] => [k, canonicalValue(v)])
        .sort(byKey),
    };
  }
  return String(value);
}

/** Canonical key of [name, value] pairs (plain JS attribute values): order-independent, type-sensitive. */
export function canonicalKeyFromEntries(entries: [string, unknown][]): string {
  return JSON.stringify(entries.map(([k, v]): [string, Canonical] => [k, canonicalValue(v)]).sort(byKey));
}

/** Canonical key of an attribute set; the serializer computes the same from decoded OTLP attributes. */
export function canonicalAttributesKey(attributes: Attributes): string {
  return canonicalKeyFromEntries(Object.entries(attributes));
}
