// The config in force. A request takes the current config when it starts and keeps it to the end, so a
// reload never changes the rules under a request in flight; a replaced config is closed (its upstream
// connections, its key refreshes) only when its last request is done.
import type { CompiledConfig } from '../config/compile.ts';

export class ActiveConfig {
  inFlight = 0;
  retired = false;
  constructor(readonly config: CompiledConfig) {}
}

export class ConfigHolder {
  private active: ActiveConfig;
  /** Configs replaced by a reload that requests in flight still hold; a number that grows is a leak. */
  retained = 0;

  constructor(initial: CompiledConfig) {
    this.active = new ActiveConfig(initial);
  }

  get current(): CompiledConfig {
    return this.active.config;
  }

  acquire(): ActiveConfig {
    const active = this.active;
    active.inFlight++;
    return active;
  }

  release(active: ActiveConfig): void {
    active.inFlight--;
    if (active.retired && active.inFlight === 0) {
      this.retained--;
      active.config.close(this.active.config);
    }
  }

  replace(next: CompiledConfig): CompiledConfig {
    const previous = this.active;
    this.active = new ActiveConfig(next);
    previous.retired = true;
    if (previous.inFlight === 0) previous.config.close(next);
    else {
      this.retained++;
      previous.config.retire();
    }
    return previous.config;
  }

  /** Close the config in force (at shutdown). */
  close(): void {
    this.active.retired = true;
    this.active.config.close();
  }
}
