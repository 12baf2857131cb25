// Finds the entry of an attribute set on the record path without building a string: one trie level
// per attribute, in the order the attributes are given. Attribute names, route templates and method
// names come from the same string objects request after request, so V8 reuses their cached hashes
// and a lookup costs one string comparison and one Map.get per attribute. The same set given in
// another key order ends in another leaf; the reservoir merges those by canonical key at export.
import type { Attributes } from '@opentelemetry/api';

/**
 * A node's children are keyed by the value of attribute `name` (the first name seen at that depth);
 * another name at the same depth (an attribute set of another shape) gets a sibling in otherNames.
 */
class TrieNode<T> {
  name: string | undefined = undefined;
  children: Map<unknown, TrieNode<T>> | undefined = undefined;
  otherNames: Map<string, TrieNode<T>> | undefined = undefined;
  value: T | undefined = undefined;
}

/** Map key of an attribute value: primitives as they are, arrays (rare) as a string. */
function keyOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? `\u0000${JSON.stringify(value)}` : value;
}

export class AttributeTrie<T> {
  readonly #root = new TrieNode<T>();

  /**
   * The entry of `attributes`. An unknown set gets `create()`'s entry, unless create returns
   * undefined (a cap is reached): then the trie stays as it was and undefined is returned.
   */
  lookup(attributes: Attributes, create: () => T | undefined): T | undefined {
    let node = this.#root;
    for (const name in attributes) {
      const level = node.name === name ? node : node.name === undefined ? node : node.otherNames?.get(name);
      const next = level?.children?.get(keyOf(attributes[name]));
      if (next === undefined) return this.#insert(attributes, create);
      node = next;
    }
    return node.value ?? this.#insert(attributes, create);
  }

  /** The slow path of an unknown attribute set: make the entry first, then the nodes leading to it. */
  #insert(attributes: Attributes, create: () => T | undefined): T | undefined {
    const value = create();
    if (value === undefined) return undefined;
    let node = this.#root;
    for (const name in attributes) {
      let level = node;
      if (level.name === undefined) level.name = name;
      if (level.name !== name) {
        level.otherNames ??= new Map();
        let sibling = level.otherNames.get(name);
        if (sibling === undefined) {
          sibling = new TrieNode<T>();
          sibling.name = name;
          level.otherNames.set(name, sibling);
        }
        level = sibling;
      }
      level.children ??= new Map();
      const key = keyOf(attributes[name]);
      let child = level.children.get(key);
      if (child === undefined) {
        child = new TrieNode<T>();
        level.children.set(key, child);
      }
      node = child;
    }
    node.value = value;
    return value;
  }
}
