// Pipelined requests (several written before the first answer) are handled one at a time
// (server/gateway.ts, handle); this keeps a connection from being read far ahead of them.
import type { Socket } from 'node:net';

/**
 * A connection as node:http keeps it: `_paused` is its own "stop reading" flag (set when responses back up;
 * while it is set, a request body being read does not start the socket again, and the parser stops after
 * the bytes it has), `parser` its HTTP parser.
 */
export type PipelinedSocket = Socket & { _paused?: boolean; parser?: { resume(): void } | null; [WAITING]?: number; [HELD]?: boolean };
/** Requests parsed on a connection that wait for the responses before theirs (pipelined). */
const WAITING = Symbol('portcullis.waiting');
/** The gateway stopped reading the connection (holdBack), and starts it again (readOn). */
const HELD = Symbol('portcullis.held');
/**
 * How many pipelined requests may wait before the connection is no longer read. Not one: a connection that
 * is not read does not tell the gateway that its client hung up, and a client that does should still abort
 * what it started (as a shallow pipeline's does); real clients pipeline a few requests deep.
 */
const PIPELINE_DEPTH = 16;

/**
 * A pipelined request waits for the response before it. Node parses and emits every request it reads at
 * once, and stops reading only when response bytes back up, which responses that have not started never
 * do: behind one slow response, a client could pipeline requests at line speed and have each held in
 * memory (2.8 MB of 28-byte requests held 170 MB). Past PIPELINE_DEPTH waiting requests the connection
 * is not read until they start, as nginx reads the next request only when it gets to it: what the client
 * sends meanwhile stays in its own TCP buffers, and at most the bytes of one read are parsed ahead.
 */
export function holdBack(connection: PipelinedSocket): void {
  const waiting = (connection[WAITING] ?? 0) + 1;
  connection[WAITING] = waiting;
  if (waiting < PIPELINE_DEPTH || connection._paused === true) return;
  connection[HELD] = true;
  connection._paused = true;
  connection.pause();
}

/** A waiting request starts: read on once few enough wait (what node:http does when its responses drain). */
export function readOn(connection: PipelinedSocket): void {
  const waiting = connection[WAITING]! - 1;
  connection[WAITING] = waiting;
  if (waiting >= PIPELINE_DEPTH || connection[HELD] !== true) return;
  connection[HELD] = false;
  if (connection._paused !== true || connection.destroyed) return;
  connection._paused = false;
  connection.parser?.resume();
  connection.resume();
}
