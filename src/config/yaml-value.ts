// The parsed document as plain values. yaml's toJS throws on what a hostile or careless file can hold
// (an alias bomb, an alias to no anchor) and builds a cycle from an alias inside its own anchor; any of
// those reaching a hot reload would crash the gateway. They are found first, at their position, and
// become problems like any other.
import { isAlias, isCollection, isPair, visit, type Node } from 'yaml';
import type { ConfigProblem } from './problems.ts';
import type { ConfigSource } from './source.ts';

/** A YAML mapping among the document's plain values (not a list, not a scalar). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Alias expansions allowed: a gateway config has no need for more, an alias bomb needs millions. */
export const MAX_ALIAS_COUNT = 100;

export function documentValue(source: ConfigSource): { value?: unknown; problems: ConfigProblem[] } {
  const problems = aliasProblems(source);
  if (problems.length > 0) return { problems };
  try {
    return { value: source.document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), problems };
  } catch (err) {
    // Not expected after the checks above; still a problem to report, never an exception to crash on.
    const message = err instanceof Error ? err.message : String(err);
    return { problems: [yamlProblem(source, 0, 'yaml_value', `the document can not be read: ${message}`)] };
  }
}

interface AnchorUse {
  count: number;
  aliasCount: number;
}

/**
 * Walks aliases in the order toJS resolves them and counts expansions the way yaml does (each use of an
 * anchor, times the aliases nested inside it), so the limit is found here, with its position.
 */
function aliasProblems(source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const anchored = new Map<string, Node>();
  const uses = new Map<Node, AnchorUse>();
  const targets = new Map<Node, Node>();

  const aliasCountOf = (node: unknown): number => {
    if (isAlias(node)) {
      const use = uses.get(targets.get(node)!);
      return use ? use.count * use.aliasCount : 0;
    }
    if (isPair(node)) return Math.max(aliasCountOf(node.key), aliasCountOf(node.value));
    if (isCollection(node)) return node.items.reduce<number>((max, item) => Math.max(max, aliasCountOf(item)), 0);
    return 1;
  };

  visit(source.document, {
    Node(_key, node, path) {
      const offset = node.range?.[0] ?? 0;
      if (!isAlias(node)) {
        if (node.anchor) {
          anchored.set(node.anchor, node);
          uses.set(node, { count: 1, aliasCount: 0 });
        }
        return undefined;
      }
      const target = anchored.get(node.source);
      if (target === undefined) {
        problems.push(yamlProblem(source, offset, 'yaml_alias', `alias *${node.source} has no anchor &${node.source} before it`));
        return visit.BREAK;
      }
      if (path.includes(target)) {
        problems.push(yamlProblem(source, offset, 'yaml_alias', `alias *${node.source} is inside the value it refers to`));
        return visit.BREAK;
      }
      targets.set(node, target);
      const use = uses.get(target)!;
      use.count += 1;
      if (use.aliasCount === 0) use.aliasCount = aliasCountOf(target);
      if (use.count * use.aliasCount > MAX_ALIAS_COUNT) {
        problems.push(
          yamlProblem(
            source,
            offset,
            'yaml_alias_limit',
            `too many alias references (limit ${MAX_ALIAS_COUNT}): *${node.source} here expands &${node.source} past the limit; write the repeated values out`,
          ),
        );
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return problems;
}

function yamlProblem(source: ConfigSource, offset: number, code: string, message: string): ConfigProblem {
  const { line, col } = source.lineCounter.linePos(offset);
  return { severity: 'error', code, file: source.file, line, col, path: 'yaml', message };
}
