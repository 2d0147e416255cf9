// The config file as text and as a YAML document that still knows where every key and value was written,
// so that any problem found later (schema, cross references, key files) points at FILE:LINE:COL.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigPath, ConfigProblem, Severity } from './problems.ts';
import { formatPath } from './problems.ts';

export interface ConfigSource {
  readonly file: string;
  readonly document: Document.Parsed;
  readonly lineCounter: LineCounter;
}

export function parseSource(file: string, text: string): { source: ConfigSource; problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const source = { file, document, lineCounter };
  const problems: ConfigProblem[] = document.errors.map((err) => {
    const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
    return {
      severity: 'error' as const,
      code: 'yaml_syntax',
      file,
      line: pos.line,
      col: pos.col,
      path: 'yaml',
      message: err.message.split('\n')[0]!,
    };
  });
  return { source, problems };
}

type Located = { node: Node; exact: boolean };

/**
 * The node at `path`, or its nearest existing ancestor (a missing key is reported where its parent
 * is). With `keyOf`, the last step resolves to the key itself, for "unknown key" messages.
 */
function locate(source: ConfigSource, path: ConfigPath, keyOf = false): Located | undefined {
  let current: unknown = source.document.contents;
  let found: Node | undefined = isNodeLike(current) ? current : undefined;
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    const last = i === path.length - 1;
    if (isMap(current)) {
      const pair = current.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) return found && { node: found, exact: false };
      if (last && keyOf && isNodeLike(pair.key)) return { node: pair.key, exact: true };
      current = pair.value;
    } else if (isSeq(current) && typeof step === 'number') {
      current = current.items[step];
    } else {
      return found && { node: found, exact: false };
    }
    if (!isNodeLike(current)) return found && { node: found, exact: false };
    found = current;
  }
  return found && { node: found, exact: true };
}

function isNodeLike(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value && Array.isArray((value as Node).range);
}

export function positionOf(source: ConfigSource, path: ConfigPath, keyOf = false): { line: number; col: number } {
  const located = locate(source, path, keyOf);
  const offset = located?.node.range?.[0] ?? 0;
  return source.lineCounter.linePos(offset);
}

/** Whether the value at `path` was written as a plain (unquoted) scalar: those may be numbers. */
export function isPlainScalar(source: ConfigSource, path: ConfigPath): boolean {
  const located = locate(source, path);
  return !!located?.exact && isScalar(located.node) && located.node.type === 'PLAIN';
}

export function problemAt(
  source: ConfigSource,
  path: ConfigPath,
  code: string,
  message: string,
  severity: Severity = 'error',
  keyOf = false,
): ConfigProblem {
  const { line, col } = positionOf(source, path, keyOf);
  return { severity, code, file: source.file, line, col, path: formatPath(path), message };
}
