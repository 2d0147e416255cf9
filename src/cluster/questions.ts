// Questions from the primary to some workers, answered by id. A question ends when every worker asked
// has answered or died, or when the wait runs out: a dead worker will never answer, and waiting for it
// would only delay a reload, a readiness check or a scrape.
import type { Worker } from 'node:cluster';
import type { Answer, Question, QuestionBody } from './messages.ts';

export interface Replies {
  readonly answers: ReadonlyMap<Worker, Answer>;
  /** Workers still alive that did not answer in time. */
  readonly silent: readonly Worker[];
}

interface Pending {
  readonly waitingFor: Set<Worker>;
  readonly answers: Map<Worker, Answer>;
  readonly settle: () => void;
}

export class Questions {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  ask(workers: readonly Worker[], body: QuestionBody, waitMs: number): Promise<Replies> {
    const id = this.nextId++;
    const message: Question = { ...body, id };
    return new Promise<Replies>((resolve) => {
      let timedOut = false;
      const pending: Pending = {
        waitingFor: new Set(workers),
        answers: new Map(),
        settle: () => {
          if (pending.waitingFor.size > 0 && !timedOut) return;
          clearTimeout(timer);
          this.pending.delete(id);
          resolve({ answers: pending.answers, silent: [...pending.waitingFor] });
        },
      };
      const timer = setTimeout(() => {
        timedOut = true;
        pending.settle();
      }, waitMs);
      this.pending.set(id, pending);
      // A send that fails means the channel is closing: the worker is on its way out.
      for (const worker of workers) worker.send(message, (err) => err && this.exited(worker));
      pending.settle();
    });
  }

  answered(worker: Worker, answer: Answer): void {
    const pending = this.pending.get(answer.id);
    if (!pending?.waitingFor.delete(worker)) return;
    pending.answers.set(worker, answer);
    pending.settle();
  }

  exited(worker: Worker): void {
    for (const pending of [...this.pending.values()]) {
      if (pending.waitingFor.delete(worker)) pending.settle();
    }
  }
}
